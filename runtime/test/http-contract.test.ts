// The instance HTTP contract, run for real: the plugin's route handler (createConvosRuntime().handle) mounted on a
// plain node http server on loopback, with a real ConvosAgent on a real devnet. No OpenClaw here (see e2e.test.ts):
// without an OpenRouter key the agent answers "no model configured", which this file checks end to end too.
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, Schema } from "effect"
import { HealthAnswer, InviteAnswer, JoinAnswer, ProvisionAnswer } from "@convos-agents/contract"
import { DevnetMessaging, generateIdentity } from "@convos-agents/messaging"
import { createInviteSlug, inviteUrlBase, randomTag } from "@convos-agents/messaging/convos"
import { createConvosRuntime, NO_MODEL_REPLY, type ConvosRuntime } from "../src/plugin/convosRuntime.ts"
import { connectPerson, joinInvite, waitForText } from "./support/chatClient.ts"
import { startTestDevnet } from "./support/devnet.ts"

const TOKEN = "instance-token-for-tests"
let devnet: Awaited<ReturnType<typeof startTestDevnet>>
let stateDir: string
let convos: ConvosRuntime
let server: Server
let base: string
const env: NodeJS.ProcessEnv = {}
const dispatched: string[] = []
/** Turns that reached the agent (dispatch), with the conversation's own instructions; each answered "ok <n>". */
const turns: Array<{ conversationId: string; text: string; instructions: string | undefined }> = []

const call = (path: string, init: { method?: string; token?: string | null; body?: unknown; raw?: string } = {}) =>
  fetch(`${base}${path}`, {
    method: init.method ?? "GET",
    headers: {
      ...(init.token === null ? {} : { authorization: `Bearer ${init.token ?? TOKEN}` }),
      "content-type": "application/json",
    },
    ...(init.raw !== undefined
      ? { body: init.raw }
      : init.body !== undefined
        ? { body: JSON.stringify(init.body) }
        : {}),
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, any> }))

beforeAll(async () => {
  devnet = await startTestDevnet()
  stateDir = mkdtempSync(join(tmpdir(), "runtime-http-"))
  Object.assign(env, {
    OPENCLAW_STATE_DIR: stateDir,
    INSTANCE_TOKEN: TOKEN,
    PORT: "18999",
    CONVOS_JOIN_WAIT_MS: "1500",
  })
  convos = createConvosRuntime({
    env,
    messaging: DevnetMessaging.layerFromUrl(devnet.url),
    dispatch: async (m, reply) => {
      if (env.MODEL_BASE_URL) {
        turns.push({ conversationId: m.conversationId, text: m.text, instructions: m.instructions })
        await reply(`ok ${turns.length}`)
        return { delivered: 1, silent: false }
      }
      dispatched.push(m.text)
      return { delivered: 0, silent: true }
    },
  })
  server = createServer((req, res) => {
    convos.handle(req, res).then((handled) => {
      if (!handled) {
        res.statusCode = 404
        res.end("{}")
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()))
  await convos?.stop()
  await devnet?.close()
  rmSync(stateDir, { recursive: true, force: true })
})

describe("instance HTTP contract", () => {
  it("answers health without a token, not ready until messaging is live, and 503 on other routes meanwhile", async () => {
    const before = await call("/pool/health", { token: null })
    expect(before.status).toBe(200)
    expect(before.body).toMatchObject({ ready: false, version: "0.1.0" })
    const early = await call("/convos/status")
    expect(early.status).toBe(503)
    await convos.start()
    const after = await call("/pool/health", { token: null })
    expect(after.body).toEqual({ ready: true, version: "0.1.0" })
    expect((await call("/pool/health")).body).toMatchObject({ ready: true, conversationId: null })
  })

  it("refuses a missing or wrong bearer token with 401", async () => {
    expect((await call("/convos/status", { token: null })).status).toBe(401)
    expect((await call("/convos/status", { token: "wrong" })).status).toBe(401)
    expect(
      (
        await call("/pool/provision", {
          method: "POST",
          token: `${TOKEN}x`,
          body: { agentName: "A", instructions: "" },
        })
      ).status,
    ).toBe(401)
    expect((await call("/convos/status")).status).toBe(200)
  })

  it("refuses bad bodies with 400 naming the field and the reason", async () => {
    const missing = await call("/pool/provision", { method: "POST", body: { instructions: "x" } })
    expect(missing.status).toBe(400)
    expect(missing.body.field).toBe("agentName")
    expect(missing.body.reason).toMatch(/missing/i)
    const empty = await call("/pool/provision", { method: "POST", body: { agentName: "", instructions: "x" } })
    expect(empty.status).toBe(400)
    expect(empty.body).toMatchObject({ field: "agentName", reason: expect.stringContaining("name is empty") })
    const badEnv = await call("/pool/provision", {
      method: "POST",
      body: { agentName: "A", instructions: "", env: { "lower-case": "v" } },
    })
    expect(badEnv.status).toBe(400)
    expect(badEnv.body.field).toMatch(/^env/)
    const notJson = await call("/convos/join", { method: "POST", raw: "{nope" })
    expect(notJson.status).toBe(400)
    expect(notJson.body.reason).toBe("body is not valid JSON")
    const badInvite = await call("/convos/join", { method: "POST", body: { inviteUrl: "https://example.com/hello" } })
    expect(badInvite.status).toBe(400)
    expect(badInvite.body.field).toBe("inviteUrl")
  })

  it("provisions once: creates the named group with a Convos invite, greets, applies env without echoing it; then 409", async () => {
    const res = await call("/pool/provision", {
      method: "POST",
      body: {
        agentName: "Trip Planner",
        instructions: "Plan trips to Lisbon.",
        templateSlug: "travel",
        env: { TELNYX_API_KEY: "secret-telnyx-value", TELNYX_PHONE_NUMBER: "+15550001234" },
      },
    })
    expect(res.status).toBe(200)
    // Every answer the pool reads decodes with the contract's Schema, the one its client uses (contract/runtime.ts).
    const exact = { onExcessProperty: "error" } as const
    expect(Schema.decodeUnknownSync(ProvisionAnswer)(res.body, exact)).toEqual(res.body)
    expect(res.body.joined).toBe(false)
    expect(res.body.inviteUrl).toMatch(/^https:\/\/dev\.convos\.org\/v2\?i=/)
    expect(JSON.stringify(res.body)).not.toContain("secret-telnyx-value")
    const identity = readFileSync(join(stateDir, "workspace", "IDENTITY.md"), "utf8")
    expect(identity).toContain("- **Name:** Trip Planner")
    expect(identity).toMatch(/## Custom Instructions\n\nPlan trips to Lisbon\./)
    expect(existsSync(join(stateDir, "workspace", "skills"))).toBe(false) // no shell skills: services are typed tools
    expect(statSync(join(stateDir, ".env")).mode & 0o777).toBe(0o600)
    expect(readFileSync(join(stateDir, "openclaw.json"), "utf8")).not.toContain("secret-telnyx-value")

    const again = await call("/pool/provision", { method: "POST", body: { agentName: "Other", instructions: "" } })
    expect(again.status).toBe(409)
    expect(again.body.error).toContain('already provisioned as "Trip Planner"')

    // Readiness only without the token: no conversation, no invite (anyone could join the chat with it).
    const open = await call("/pool/health", { token: null })
    expect(open.status).toBe(200)
    expect(open.body).toEqual({ ready: true, version: "0.1.0" })
    expect(JSON.stringify(open.body)).not.toContain(res.body.inviteUrl)
    for (const token of ["wrong-token", `${TOKEN}x`])
      expect((await call("/pool/health", { token })).body).toEqual({ ready: true, version: "0.1.0" })
    // The pool, holding the instance token, gets them (how it recovers a claim after a restart).
    const health = await call("/pool/health")
    expect(Schema.decodeUnknownSync(HealthAnswer)(open.body, exact)).toEqual(open.body)
    expect(Schema.decodeUnknownSync(HealthAnswer)(health.body, exact)).toEqual(health.body)
    expect(health.body.conversationId).toBe(res.body.conversationId)
    expect(health.body.inviteUrl).toBe(res.body.inviteUrl)

    // A person joins through the invite (the agent serves the join request), sees the greeting, and — with no
    // OpenRouter key — gets the "no model configured" answer instead of silence.
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const person = yield* connectPerson(devnet.url)
          const joined = yield* joinInvite(person, res.body.inviteUrl)
          expect(joined).toMatchObject({ _tag: "Joined", conversationId: res.body.conversationId })
          const greeting = yield* waitForText(
            person,
            res.body.conversationId,
            (t) => t.startsWith("Hi, I'm Trip Planner"),
            0,
            10_000,
          )
          expect(greeting).toContain("Trip Planner")
          const sentAt = Date.now()
          yield* person.client.sendText(res.body.conversationId, "what can you do?")
          expect(
            yield* waitForText(person, res.body.conversationId, (t) => t === NO_MODEL_REPLY, sentAt - 1, 15_000),
          ).toBe(NO_MODEL_REPLY)
        }),
      ),
    )
    expect(dispatched).toEqual([])
  })

  it("PATCH /pool/agent renames and rewrites the instructions where the agent reads them", async () => {
    const res = await call("/pool/agent", {
      method: "PATCH",
      body: { agentName: "Lisbon Guide", instructions: "Only Lisbon." },
    })
    expect(res.status).toBe(200)
    const identity = readFileSync(join(stateDir, "workspace", "IDENTITY.md"), "utf8")
    expect(identity).toContain("Lisbon Guide")
    expect(identity).toContain("Only Lisbon.")
    const status = await call("/convos/status")
    expect(status.body).toMatchObject({ agentName: "Lisbon Guide", provisioned: true })
  })

  it("a newcomer reads the greeting BOOT.md holds: an edited one as written", async () => {
    const { inviteUrl, conversationId } = (await call("/pool/health")).body
    const boot = join(stateDir, "workspace", "BOOT.md")
    expect(readFileSync(boot, "utf8")).toContain("Hi, I'm Lisbon Guide!") // the default follows the rename
    writeFileSync(
      boot,
      readFileSync(boot, "utf8").replace(/Hi, I'm Lisbon Guide!.*/, "Olá! Ask me anything about Lisbon."),
    )
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const person = yield* connectPerson(devnet.url)
          expect(yield* joinInvite(person, inviteUrl)).toMatchObject({ _tag: "Joined", conversationId })
          expect(yield* waitForText(person, conversationId, (t) => t.startsWith("Olá!"), 0, 10_000)).toBe(
            "Olá! Ask me anything about Lisbon.",
          )
        }),
      ),
    )
  })

  it("POST /convos/invite: a new invite works, the old one is refused as revoked; health and status report the new one", async () => {
    const before = (await call("/pool/health")).body
    expect((await call("/convos/invite", { method: "POST", token: null })).status).toBe(401)
    const res = await call("/convos/invite", { method: "POST" })
    expect(res.status).toBe(200)
    expect(Schema.decodeUnknownSync(InviteAnswer)(res.body, { onExcessProperty: "error" })).toEqual(res.body)
    expect(res.body.inviteUrl).toMatch(/^https:\/\/dev\.convos\.org\/v2\?i=/)
    expect(res.body.inviteUrl).not.toBe(before.inviteUrl)
    expect((await call("/pool/health")).body.inviteUrl).toBe(res.body.inviteUrl)
    expect((await call("/convos/status")).body.inviteUrl).toBe(res.body.inviteUrl)
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const stranger = yield* connectPerson(devnet.url, "old link")
          const refused = yield* Effect.flip(joinInvite(stranger, before.inviteUrl, 10_000))
          expect(String((refused as { message?: string }).message)).toContain("revoked")
          const friend = yield* connectPerson(devnet.url, "new link")
          expect(yield* joinInvite(friend, res.body.inviteUrl)).toMatchObject({
            _tag: "Joined",
            conversationId: before.conversationId,
          })
        }),
      ),
    )
  })

  it("creates extra conversations and reports a join as pending while the invite's owner is offline", async () => {
    const conv = await call("/convos/conversation", { method: "POST", body: { name: "Side chat" } })
    expect(conv.status).toBe(200)
    expect(conv.body.inviteUrl).toMatch(/\?i=/)
    // An invite from someone who is connected but never answers join requests: the join stays pending.
    const owner = generateIdentity()
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const client = yield* DevnetMessaging.layerFromUrl(devnet.url).pipe((l) =>
            Effect.provide(
              Effect.gen(function* () {
                const { Messaging } = yield* Effect.promise(() => import("@convos-agents/messaging"))
                return yield* (yield* Messaging).connect(owner, { label: "offline owner" })
              }),
              l,
            ),
          )
          const tag = randomTag()
          const group = yield* client.createGroup([], { name: "Owner's group", appData: JSON.stringify({ tag }) })
          const url = inviteUrlBase("dev") + createInviteSlug(owner, { conversationId: group.id, tag })
          const res = yield* Effect.promise(() => call("/convos/join", { method: "POST", body: { inviteUrl: url } }))
          expect(res.status).toBe(200)
          expect(res.body).toMatchObject({ joined: false, pending: true, conversationId: null })
          expect(Schema.decodeUnknownSync(JoinAnswer)(res.body, { onExcessProperty: "error" })).toEqual(res.body)
        }),
      ),
    )
  })

  it("POST /convos/conversation: each conversation has its own identity, and its own instructions reach the agent's turns there", async () => {
    const agentInbox = (await call("/convos/status")).body.inboxId
    const books = await call("/convos/conversation", {
      method: "POST",
      body: { name: "Book club", instructions: "Only talk about books." },
    })
    const chess = await call("/convos/conversation", {
      method: "POST",
      body: { name: "Chess", instructions: "Only talk about chess.", env: "devnet" },
    })
    expect(books.status).toBe(200)
    expect(chess.status).toBe(200)
    expect(new Set([agentInbox, books.body.inboxId, chess.body.inboxId]).size).toBe(3)
    const wrongNetwork = await call("/convos/conversation", {
      method: "POST",
      body: { name: "Elsewhere", env: "production" },
    })
    expect(wrongNetwork).toMatchObject({ status: 400, body: { field: "env" } })

    env.MODEL_BASE_URL = "http://127.0.0.1:9/v1" // a model is configured: turns go to the agent (the test's dispatch)
    try {
      await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            for (const [made, instructions] of [
              [books.body, "Only talk about books."],
              [chess.body, "Only talk about chess."],
            ] as const) {
              const person = yield* connectPerson(devnet.url)
              expect(yield* joinInvite(person, made.inviteUrl)).toMatchObject({
                _tag: "Joined",
                conversationId: made.conversationId,
              })
              const sentAt = Date.now()
              yield* person.client.sendText(made.conversationId, `hello ${made.conversationId}`)
              yield* waitForText(person, made.conversationId, (t) => t.startsWith("ok "), sentAt - 1, 15_000)
              expect(turns.at(-1)).toEqual({
                conversationId: made.conversationId,
                text: `hello ${made.conversationId}`,
                instructions,
              })
              // The answer (and the greeting) come from the conversation's own identity, not the agent's main one.
              const senders = new Set(
                (yield* person.client.messages(made.conversationId, { limit: 100 }))
                  .map((m) => m.senderInboxId)
                  .filter((id) => id !== person.identity.inboxId),
              )
              expect([...senders]).toEqual([made.inboxId])
            }
          }),
        ),
      )
    } finally {
      delete env.MODEL_BASE_URL
    }
  })
})
