// Contract 3 over real HTTP: the pool's /api/agent-services against a pool with live AgentResources over the loopback
// provider fakes (AgentMail, Telnyx, OpenRouter, Bankr Partner API), real SQL (PGlite or TEST_DATABASE_URL), and
// two claimed agents. Checks the token (401), the agent's own resources only (403), services it does not hold (404),
// the daily limits counted in the database (429, still after a rebuilt service), bad input (400), and that allowed
// requests reach the provider with the org key and the agent's own inbox/number.
import { serve } from "@hono/node-server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ConfigProvider, Effect, Layer, ManagedRuntime } from "effect"
import { SqlClient } from "effect/sql"
import { instanceToken, PoolConfig } from "../../config.ts"
import { Pool } from "../../pool/Pool.ts"
import { apiKey as agentMailKey } from "../../providers/agentmail/fake.ts"
import { ProviderFakes } from "../../providers/resources/testing.ts"
import { AgentServices, AgentServicesLive } from "../../providers/services/AgentServices.ts"
import { apiKey as telnyxKey } from "../../providers/telnyx/fake.ts"
import { makeApiApp } from "../index.ts"
import { poolLayerOverProviderFakes } from "./server.ts"

const limits = ConfigProvider.layer(ConfigProvider.fromUnknown({ AGENT_EMAILS_PER_DAY: "2", AGENT_SMS_PER_DAY: "1" }))
const runtime = ManagedRuntime.make(
  AgentServicesLive.pipe(Layer.provideMerge(poolLayerOverProviderFakes), Layer.provide(limits)),
)

let base = ""
let close = async () => {}
const agents: Record<"a" | "b" | "idle", string> = { a: "", b: "", idle: "" }
const held: Record<"a" | "b", { inbox: string; number: string }> = {
  a: { inbox: "", number: "" },
  b: { inbox: "", number: "" },
}
const run = <A, E>(e: Effect.Effect<A, E, any>) => runtime.runPromise(e as Effect.Effect<A, E, never>)
const fakes = () => run(Effect.service(ProviderFakes))
let tokenOf = (_id: string) => ""

const call = (
  path: string,
  who: { id: string; token: string } | null,
  init: { method?: string; body?: unknown } = {},
) =>
  fetch(`${base}/api/agent-services${path}`, {
    method: init.method ?? "GET",
    headers: {
      ...(who ? { authorization: `Bearer ${who.token}`, "x-instance-id": who.id } : {}),
      ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(init.body !== undefined ? { body: typeof init.body === "string" ? init.body : JSON.stringify(init.body) } : {}),
  }).then(async (r) => ({ status: r.status, headers: r.headers, body: (await r.json()) as Record<string, any> }))
const as = (k: "a" | "b" | "idle") => ({ id: agents[k], token: tokenOf(agents[k]) })

beforeAll(async () => {
  const settings = await run(Effect.service(PoolConfig))
  tokenOf = (id) => instanceToken(settings, id)
  const ids = await run(
    Effect.gen(function* () {
      const pool = yield* Pool
      yield* pool.replenish(3)
      yield* pool.tick
      const a = yield* pool.claim({ key: "svc-a", claimedBy: "owner-a", agentName: "A" })
      const b = yield* pool.claim({ key: "svc-b", claimedBy: "owner-b", agentName: "B" })
      const idle = (yield* pool.list({ status: ["idle"] }))[0]!
      return { a: a.instance.id, b: b.instance.id, idle: idle.id }
    }),
  )
  Object.assign(agents, ids)
  const app = makeApiApp(runtime, { apiKey: "test-key-0123456789" })
  await new Promise<void>((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
      base = `http://127.0.0.1:${info.port}`
      close = () => new Promise((r) => server.close(() => r()))
      resolve()
    })
  })
  for (const k of ["a", "b"] as const) {
    const me = await call("/me", as(k))
    held[k] = { inbox: me.body.email.address, number: me.body.phone.number }
  }
}, 120_000)

afterAll(async () => {
  await close()
  await runtime.dispose()
})

describe("agent services (docs/api.md, Agent services)", () => {
  it("refuses a missing token, a wrong token, and another instance's token (401)", async () => {
    expect((await call("/me", null)).status).toBe(401)
    const wrong = await call("/me", { id: agents.a, token: "f".repeat(64) })
    expect(wrong.status).toBe(401)
    expect(wrong.body.error).toContain("INSTANCE_TOKEN")
    expect((await call("/me", { id: agents.a, token: tokenOf(agents.b) })).status).toBe(401)
    expect(
      (
        await call(
          "/email/send",
          { id: agents.a, token: "x" },
          { method: "POST", body: { to: "x@example.com", subject: "s", text: "t" } },
        )
      ).status,
    ).toBe(401)
  })

  it("GET /me shows the agent's own inbox, number and Bankr wallet", async () => {
    const me = await call("/me", as("a"))
    expect(me.status).toBe(200)
    const f = await fakes()
    expect(me.body.email.address).toMatch(/^convos-test-.+@agentmail\.to$/)
    expect(f.telnyx.state.ordered).toContain(me.body.phone.number)
    expect([...f.bankr.state.wallets.values()].map((w) => w.evmAddress)).toContain(me.body.wallet.address)
    expect(held.a.inbox).not.toBe(held.b.inbox)
    const wallet = await call("/wallet", as("a"))
    expect(wallet).toMatchObject({ status: 200, body: { address: me.body.wallet.address } })
  })

  it("an agent that holds nothing gets nulls and 404 for each service", async () => {
    expect((await call("/me", as("idle"))).body).toEqual({ email: null, phone: null, wallet: null })
    for (const [path, init] of [
      ["/wallet", {}],
      ["/email/messages", {}],
      ["/email/send", { method: "POST", body: { to: "bob@example.com", subject: "Hi", text: "Hello" } }],
      ["/sms/send", { method: "POST", body: { to: "+15551234567", text: "Hello" } }],
    ] as const) {
      const r = await call(path, as("idle"), init)
      expect(r.status, path).toBe(404)
      expect(r.body.error).toContain("has no")
    }
  })

  it("sends email from the agent's own inbox with the org key; naming another agent's inbox is 403", async () => {
    const f = await fakes()
    const before = f.agentmail.api.requests.length
    const sent = await call("/email/send", as("a"), {
      method: "POST",
      body: { to: "bob@example.com", subject: "Hello", text: "From A" },
    })
    expect(sent.status).toBe(200)
    expect(sent.body.messageId).toBeTruthy()
    const request = f.agentmail.api.requests.slice(before).find((r) => r.path.endsWith("/messages/send"))!
    expect(request.path).toBe(`/v0/inboxes/${encodeURIComponent(held.a.inbox)}/messages/send`)
    expect(request.headers.authorization).toBe(`Bearer ${agentMailKey}`)
    expect(f.agentmail.state.messages.find((m) => m.message_id === sent.body.messageId)).toMatchObject({
      inbox_id: held.a.inbox,
      to: ["bob@example.com"],
      text: "From A",
    })
    const foreign = await call("/email/send", as("a"), {
      method: "POST",
      body: { from: held.b.inbox, to: "bob@example.com", subject: "Hello", text: "Spoofed" },
    })
    expect(foreign.status).toBe(403)
    expect(foreign.body.error).toContain("not this agent's")
    expect(f.agentmail.state.messages.some((m) => m.text === "Spoofed")).toBe(false)
  })

  it("lists the agent's own mail with its text", async () => {
    const f = await fakes()
    f.agentmail.state.deliver(held.a.inbox, {
      from: "carol@example.com",
      subject: "Question",
      text: "Can you book a table?",
    })
    f.agentmail.state.deliver(held.b.inbox, { from: "dave@example.com", subject: "For B only", text: "secret of B" })
    const list = await call("/email/messages?limit=5", as("a"))
    expect(list.status).toBe(200)
    expect(list.body.messages[0]).toMatchObject({
      from: "carol@example.com",
      subject: "Question",
      text: "Can you book a table?",
    })
    expect(list.body.messages[0].id).toBeTruthy()
    expect(list.body.messages[0].receivedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/)
    expect(JSON.stringify(list.body)).not.toContain("secret of B")
    for (const bad of ["0", "51", "abc", "1.5"])
      expect((await call(`/email/messages?limit=${bad}`, as("a"))).status, bad).toBe(400)
  })

  it("the daily email limit is counted in the database: 429 with the reset time, also for a rebuilt service", async () => {
    // A sent one above; AGENT_EMAILS_PER_DAY=2.
    const second = await call("/email/send", as("a"), {
      method: "POST",
      body: { to: "bob@example.com", subject: "Two", text: "Second" },
    })
    expect(second.status).toBe(200)
    const third = await call("/email/send", as("a"), {
      method: "POST",
      body: { to: "bob@example.com", subject: "Three", text: "Third" },
    })
    expect(third.status).toBe(429)
    expect(third.body.error).toContain("resets at")
    expect(Date.parse(third.body.resetAt)).toBeGreaterThan(Date.now())
    expect(new Date(third.body.resetAt).getUTCHours()).toBe(0)
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0)
    const f = await fakes()
    expect(f.agentmail.state.messages.some((m) => m.text === "Third")).toBe(false)
    const rows = await run(
      Effect.flatMap(
        Effect.service(SqlClient.SqlClient),
        (sql) =>
          sql<{
            count: number
          }>`SELECT count FROM agent_service_usage WHERE instance_id = ${agents.a} AND service = 'email'`,
      ),
    )
    expect(rows.map((r) => r.count)).toEqual([2])
    // A restart builds the service again: the count is still there.
    const again = await run(
      Effect.flip(
        Effect.flatMap(Effect.service(AgentServices), (s) =>
          s.sendEmail(agents.a, { to: "bob@example.com", subject: "Four", text: "Fourth" }),
        ).pipe(Effect.provide(AgentServicesLive), Effect.provide(limits)),
      ),
    )
    expect(again).toMatchObject({ _tag: "DailyLimitReached", limit: 2 })
    // Limits are per agent: B still sends.
    expect(
      (
        await call("/email/send", as("b"), {
          method: "POST",
          body: { to: "bob@example.com", subject: "B", text: "From B" },
        })
      ).status,
    ).toBe(200)
  })

  it("sends an SMS from the agent's own number with the org key and its profile; another's number is 403; the limit is 429", async () => {
    const f = await fakes()
    const foreign = await call("/sms/send", as("a"), {
      method: "POST",
      body: { from: held.b.number, to: "+15551234567", text: "Spoofed" },
    })
    expect(foreign.status).toBe(403)
    const sent = await call("/sms/send", as("a"), {
      method: "POST",
      body: { to: "+15551234567", text: "Hello by SMS" },
    })
    expect(sent.status).toBe(200)
    expect(f.telnyx.state.sent.find((m) => m.id === sent.body.id)).toMatchObject({
      from: held.a.number,
      to: "+15551234567",
      text: "Hello by SMS",
    })
    const request = f.telnyx.api.requests.find(
      (r) => r.path === "/messages" && (r.body as { text?: string }).text === "Hello by SMS",
    )!
    expect(request.headers.authorization).toBe(`Bearer ${telnyxKey}`)
    expect(f.telnyx.state.sent.some((m) => m.text === "Spoofed")).toBe(false)
    const over = await call("/sms/send", as("a"), { method: "POST", body: { to: "+15551234567", text: "Again" } })
    expect(over.status).toBe(429)
  })

  it("bad input is 400 with what to fix, before anything is counted or sent", async () => {
    for (const body of [
      { to: "not-an-address", subject: "s", text: "t" },
      { to: "bob@example.com", subject: "two\nlines", text: "t" },
      { to: "bob@example.com", subject: "s", text: "" },
      { to: "bob@example.com", subject: "s", text: "t", cc: "eve@example.com" },
      "{not json",
    ]) {
      const r = await call("/email/send", as("b"), { method: "POST", body })
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.body.error).toBeTruthy()
    }
    expect(
      (await call("/sms/send", as("b"), { method: "POST", body: { to: "5551234567", text: "no plus" } })).status,
    ).toBe(400)
  })

  it("a provider refusing the message is 400 and the count is given back; a provider outage is 503", async () => {
    const f = await fakes()
    f.telnyx.fail(() => ({ status: 422, json: { errors: [{ code: "40300", title: "Blocked due to STOP message" }] } }))
    try {
      const refused = await call("/sms/send", as("b"), { method: "POST", body: { to: "+15557654321", text: "Hi" } })
      expect(refused.status).toBe(400)
      expect(refused.body.error).toContain("refused")
    } finally {
      f.telnyx.restore()
    }
    // the refused one did not use B's only SMS of the day
    expect(
      (await call("/sms/send", as("b"), { method: "POST", body: { to: "+15557654321", text: "Hi again" } })).status,
    ).toBe(200)
    f.agentmail.fail(() => ({ status: 503, json: { name: "ServiceUnavailable" } }))
    try {
      const down = await call("/email/messages", as("b"))
      expect(down.status).toBe(503)
      expect(down.body.error).toContain("unavailable")
    } finally {
      f.agentmail.restore()
    }
  })
})
