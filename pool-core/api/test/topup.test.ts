import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Pool } from "../../pool/Pool.ts"
import { managementKey } from "../../providers/openrouter/fake.ts"
import { ProviderFakes, testKeyName } from "../../providers/resources/testing.ts"
import { poolOverProviderFakes, serveApi, startApi } from "./server.ts"

// Raising an agent's OpenRouter spending cap over real HTTP: the pool with live AgentResources over the loopback
// OpenRouter (which checks auth, method, path and body of every request), real SQL for the `events` row. The API
// route and the /admin button; bad amounts and instances without a key never reach OpenRouter.

const KEY = "test-key-topup-0123456789"
const runtime = poolOverProviderFakes()
let base = ""
let close = () => Promise.resolve()
let claimedId = ""
let idleId = ""
let hash = ""

const auth = { authorization: `Bearer ${KEY}`, "content-type": "application/json" }
const fakes = () => runtime.runPromise(Effect.service(ProviderFakes))
const openRouterRequests = async () => (await fakes()).openrouter.api.requests
const limitAtFake = async () => (await fakes()).openrouter.state.keys.get(hash)!.limit
const topUp = (id: string, body: unknown, headers: Record<string, string> = auth) =>
  fetch(`${base}/api/pool/instances/${id}/topup`, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  })
const topUpEvents = (id: string) =>
  runtime.runPromise(
    Effect.flatMap(
      SqlClient.SqlClient,
      (sql) =>
        sql<{
          kind: string
          detail: string
          fromStatus: string
          toStatus: string
        }>`SELECT kind, detail, from_status, to_status FROM events WHERE instance_id = ${id} AND kind = 'topup' ORDER BY id`,
    ),
  )

beforeAll(async () => {
  await runtime.runPromise(Effect.flatMap(Pool, (p) => p.replenish(2).pipe(Effect.andThen(p.tick))))
  const served = await serveApi(runtime, KEY)
  base = served.base
  close = served.close
  const claim = await fetch(`${base}/api/pool/claim`, {
    method: "POST",
    headers: { ...auth, "idempotency-key": "topup-1" },
    body: JSON.stringify({ agentName: "Tilly" }),
  })
  expect(claim.status).toBe(200)
  claimedId = (await claim.json()).instanceId
  hash = [...(await fakes()).openrouter.state.keys.values()].find((k) => k.name === testKeyName(claimedId))!.hash
  idleId = (await runtime.runPromise(Effect.flatMap(Pool, (p) => p.list({ status: ["idle"] }))))[0]!.id
})
afterAll(async () => {
  await close()
  await runtime.dispose()
})

describe("top-up over HTTP", () => {
  it("raises the key's cap at OpenRouter by exactly the amount and records a topup event without secrets", async () => {
    expect(await limitAtFake()).toBe(20)
    const before = (await openRouterRequests()).length
    const res = await topUp(claimedId, { amountUsd: 5 }, { ...auth, "x-client-label": "ops-console" })
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(JSON.parse(text)).toEqual({ instanceId: claimedId, amountUsd: 5, limitUsd: 25, replayed: false })
    expect(text).not.toContain("sk-or")
    expect(await limitAtFake()).toBe(25)
    const sent = (await openRouterRequests()).slice(before)
    expect(sent.map((r) => [r.method, r.path, r.body])).toEqual([
      ["GET", `/api/v1/keys/${hash}`, undefined],
      ["PATCH", `/api/v1/keys/${hash}`, { limit: 25 }],
    ])
    expect(sent.every((r) => r.headers.authorization === `Bearer ${managementKey}`)).toBe(true)
    const events = await topUpEvents(claimedId)
    expect(events).toEqual([
      {
        kind: "topup",
        detail: "amountUsd=5 limitUsd=25 by=api:ops-console",
        fromStatus: "claimed",
        toStatus: "claimed",
      },
    ])
    expect(JSON.stringify(events)).not.toMatch(/sk-or|secret|mgmt/)
    const doc = (await (await fetch(`${base}/api/openapi.json`)).json()) as {
      paths: Record<string, { post?: { requestBody?: unknown } }>
    }
    expect(JSON.stringify(doc.paths["/api/pool/instances/{id}/topup"]?.post?.requestBody)).toContain("amountUsd")
  })

  it("bad amounts are a 400 naming amountUsd, and nothing is sent to OpenRouter", async () => {
    const before = (await openRouterRequests()).length
    const bodies: Array<unknown> = [
      { amountUsd: 0 },
      { amountUsd: -5 },
      { amountUsd: 100.01 },
      { amountUsd: 1000 },
      { amountUsd: "5" },
      { amountUsd: null },
      { amountUsd: 1.005 },
      {},
      { amountUsd: true },
    ]
    for (const body of bodies) {
      const res = await topUp(claimedId, body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      const json = (await res.json()) as { error: string; field: string }
      expect(json.field, JSON.stringify(body)).toBe("amountUsd")
      expect(json.error, JSON.stringify(body)).toContain("amountUsd")
    }
    const overMax = (await (await topUp(claimedId, { amountUsd: 101 })).json()) as { error: string }
    expect(overMax.error).toContain("at most 100 USD per top-up (OPENROUTER_TOPUP_MAX)")
    expect((await topUp(claimedId, "{not json")).status).toBe(400)
    expect((await topUp(claimedId, { amountUsd: 5, extra: 1 })).status).toBe(400)
    expect((await openRouterRequests()).length).toBe(before)
    expect(await limitAtFake()).toBe(25)
    expect(await topUpEvents(claimedId)).toHaveLength(1)
  })

  it("an instance without a key is a 409 that says so; unknown 404, bad id 400, no key 401 — none reaches OpenRouter", async () => {
    const before = (await openRouterRequests()).length
    const noKey = await topUp(idleId, { amountUsd: 5 })
    expect(noKey.status).toBe(409)
    expect(((await noKey.json()) as { error: string }).error).toBe(
      `Instance ${idleId} has no OpenRouter key (agents get one when they are claimed), so it has no spending cap to raise.`,
    )
    const unknown = await topUp("no-such-instance", { amountUsd: 5 })
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as { error: string }).error).toContain('No instance with id "no-such-instance"')
    const badId = await topUp("bad_id!", { amountUsd: 5 })
    expect(badId.status).toBe(400)
    expect(((await badId.json()) as { field: string }).field).toBe("id")
    expect((await topUp(claimedId, { amountUsd: 5 }, { "content-type": "application/json" })).status).toBe(401)
    expect(
      (await topUp(claimedId, { amountUsd: 5 }, { ...auth, authorization: "Bearer wrong-key-0123456789" })).status,
    ).toBe(401)
    expect((await openRouterRequests()).length).toBe(before)
    expect(await topUpEvents(idleId)).toEqual([])
  })

  it("OpenRouter failing (500) is a 502 and the cap and events stay as they were", async () => {
    const or = (await fakes()).openrouter
    or.fail((r) =>
      r.method === "PATCH" ? { status: 500, json: { error: { message: "internal" } } } : or.state.handle(r),
    )
    try {
      expect((await topUp(claimedId, { amountUsd: 1 })).status).toBe(502)
    } finally {
      or.restore()
    }
    expect(await limitAtFake()).toBe(25)
    expect(await topUpEvents(claimedId)).toHaveLength(1)
  })
})

describe("top-up on /admin", () => {
  const session = async () => {
    const login = await fetch(`${base}/admin/login`, {
      method: "POST",
      headers: { origin: base },
      body: new URLSearchParams({ key: KEY }),
      redirect: "manual",
    })
    return (login.headers.get("set-cookie") ?? "").split(";")[0]!
  }
  const action = (form: Record<string, string>, headers: Record<string, string>) =>
    fetch(`${base}/admin/actions/topup`, {
      method: "POST",
      headers: { origin: base, ...headers },
      body: new URLSearchParams(form),
    })

  it("the agent with a key has a Top up form, the idle one has none", async () => {
    const html = await (await fetch(`${base}/admin`, { headers: { cookie: await session() } })).text()
    const rowOf = (id: string) => new RegExp(`<tr><td><code>${id.slice(0, 8)}</code>.*?</tr>`).exec(html)?.[0] ?? ""
    expect(rowOf(claimedId)).toContain('action="/admin/actions/topup"')
    expect(rowOf(claimedId)).toContain(`<input type="hidden" name="id" value="${claimedId}"/>`)
    expect(rowOf(claimedId)).toContain('max="100"')
    expect(rowOf(idleId)).not.toBe("")
    expect(rowOf(idleId)).not.toContain("topup")
  })

  it("the button tops up with the session cookie; without it, cross-site, or with a bad amount nothing changes", async () => {
    const cookie = await session()
    const ok = await action({ id: claimedId, amountUsd: "2.50" }, { cookie })
    expect(ok.status).toBe(200)
    expect(await ok.text()).toContain(`Topped up ${claimedId.slice(0, 8)} by $2.50: its cap is now $27.50.`)
    expect(await limitAtFake()).toBe(27.5)
    expect((await topUpEvents(claimedId)).at(-1)!.detail).toBe("amountUsd=2.5 limitUsd=27.5 by=admin")

    // Each answer re-renders the dashboard, which reads spend (GETs); a change at OpenRouter would be a PATCH.
    const patches = async () => (await openRouterRequests()).filter((r) => r.method !== "GET").length
    const before = await patches()
    expect((await action({ id: claimedId, amountUsd: "5" }, {})).status).toBe(401)
    expect((await action({ id: claimedId, amountUsd: "5" }, { cookie, origin: "https://evil.example" })).status).toBe(
      403,
    )
    for (const amountUsd of ["0", "-1", "abc", "1.234", "", "500"]) {
      const res = await action({ id: claimedId, amountUsd }, { cookie })
      expect(res.status, amountUsd).toBe(400)
      expect(await res.text(), amountUsd).toContain("amountUsd")
    }
    const noKey = await action({ id: idleId, amountUsd: "5" }, { cookie })
    expect(noKey.status).toBe(400)
    expect(await noKey.text()).toContain("has no OpenRouter key")
    expect(await patches()).toBe(before)
    expect(await limitAtFake()).toBe(27.5)
  })
})

describe("top-up without OpenRouter", () => {
  it("answers 503 saying to set OPENROUTER_MANAGEMENT_KEY", async () => {
    const api = await startApi()
    try {
      await api.warm(1)
      const claim = await api.post("/api/pool/claim", {}, { ...api.auth, "idempotency-key": "no-or" })
      const id = ((await claim.json()) as { instanceId: string }).instanceId
      const res = await api.post(`/api/pool/instances/${id}/topup`, { amountUsd: 5 })
      expect(res.status).toBe(503)
      expect(((await res.json()) as { error: string }).error).toBe(
        "OpenRouter is not configured: set OPENROUTER_MANAGEMENT_KEY to use it.",
      )
    } finally {
      await api.close()
    }
  })
})

// Last: they move the cap by amounts the tests above do not expect.
describe("top-ups at the same moment", () => {
  it("the same Idempotency-Key tops up once: a retry answers the recorded result (replayed) and sends nothing", async () => {
    const start = (await limitAtFake())!
    const headers = { ...auth, "idempotency-key": "retry-1" }
    const [first, second] = await Promise.all([
      topUp(claimedId, { amountUsd: 3 }, headers),
      topUp(claimedId, { amountUsd: 3 }, headers),
    ])
    const bodies = [await first!.json(), await second!.json()] as Array<{ limitUsd: number; replayed: boolean }>
    expect(bodies.map((b) => b.limitUsd)).toEqual([start + 3, start + 3])
    expect(bodies.map((b) => b.replayed).sort()).toEqual([false, true])
    const patches = (await openRouterRequests()).filter((r) => r.method === "PATCH").length
    const third = await topUp(claimedId, { amountUsd: 3 }, headers)
    expect(((await third.json()) as { replayed: boolean }).replayed).toBe(true)
    expect((await openRouterRequests()).filter((r) => r.method === "PATCH").length).toBe(patches)
    expect(await limitAtFake()).toBe(start + 3)
    const other = await topUp(claimedId, { amountUsd: 4 }, headers)
    expect(other.status).toBe(400)
    expect(((await other.json()) as { field: string }).field).toBe("Idempotency-Key")
  })

  it("top-ups sent at the same moment all count: none is lost between reading and setting the limit", async () => {
    const start = (await limitAtFake())!
    const results = await Promise.all([1, 2, 3, 4].map(() => topUp(claimedId, { amountUsd: 1 })))
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200])
    const limits = (await Promise.all(results.map((r) => r.json())))
      .map((b) => (b as { limitUsd: number }).limitUsd)
      .sort((a, b) => a - b)
    expect(limits).toEqual([start + 1, start + 2, start + 3, start + 4])
    expect(await limitAtFake()).toBe(start + 4)
  })
})
