// POST /convos/leave and GET /convos/conversations, run for real: the plugin's route handler on a plain loopback http
// server with a real ConvosAgent on a real devnet (as http-contract.test.ts; no OpenClaw, turns go to the test's
// dispatch). A member of a conversation the agent left sees it removed, and the agent stops answering there.
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, Schema } from "effect"
import { ConversationsAnswer, LeaveAnswer } from "@convos-agents/contract"
import { DevnetMessaging } from "@convos-agents/messaging"
import { createConvosRuntime, type ConvosRuntime } from "../src/plugin/convosRuntime.ts"
import { type ChatPerson, connectPerson, joinInvite, waitForText } from "./support/chatClient.ts"
import { startTestDevnet } from "./support/devnet.ts"
import { type ServicesFake, startServicesFake } from "./support/servicesFake.ts"

const TOKEN = "instance-token-for-leave"
let devnet: Awaited<ReturnType<typeof startTestDevnet>>
let services: ServicesFake
let stateDir: string
let convos: ConvosRuntime
let server: Server
let base: string
/** The conversations the agent took a turn in (each answered "ok <n>"). */
const turns: string[] = []

const call = (path: string, init: { method?: string; body?: unknown } = {}) =>
  fetch(`${base}${path}`, {
    method: init.method ?? "GET",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, any> }))

beforeAll(async () => {
  devnet = await startTestDevnet()
  // The pool's agent service API, where the agent uploads its encrypted profile picture.
  services = await startServicesFake({
    instanceId: "leave-agent",
    token: TOKEN,
    held: { email: null, phone: null, wallet: null },
  })
  stateDir = mkdtempSync(join(tmpdir(), "runtime-leave-"))
  convos = createConvosRuntime({
    env: {
      OPENCLAW_STATE_DIR: stateDir,
      INSTANCE_TOKEN: TOKEN,
      INSTANCE_ID: "leave-agent",
      POOL_SERVICES_URL: services.url,
      PORT: "18998",
      MODEL_BASE_URL: "http://127.0.0.1:9/v1",
      MODEL: "test",
    },
    messaging: DevnetMessaging.layerFromUrl(devnet.url),
    rewriteConfig: false,
    dispatch: async (m, reply) => {
      turns.push(m.conversationId)
      await reply(`ok ${turns.length}`)
      return { delivered: 1, silent: false }
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
  await convos.start()
})

afterAll(async () => {
  if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
  await convos?.stop()
  await devnet?.close()
  await services?.close()
  rmSync(stateDir, { recursive: true, force: true })
})

/** Says `text` and waits for the agent's answer in that conversation. */
const answered = (p: ChatPerson, conversationId: string, text: string) =>
  Effect.gen(function* () {
    const sentAt = Date.now()
    yield* p.client.sendText(conversationId, text)
    return yield* waitForText(p, conversationId, (t) => t.startsWith("ok "), sentAt - 1, 20_000)
  })

describe("POST /convos/leave", () => {
  it("lists the agent's conversations; leaving one removes it for the members and it answers there no more", async () => {
    const own = await call("/pool/provision", { method: "POST", body: { agentName: "Scout", instructions: "" } })
    expect(own.status).toBe(200)
    const side = await call("/convos/conversation", { method: "POST", body: { name: "Side chat" } })
    const lonely = await call("/convos/conversation", { method: "POST", body: { name: "Nobody here" } })
    const listed = await call("/convos/conversations")
    expect(Schema.decodeUnknownSync(ConversationsAnswer)(listed.body, { onExcessProperty: "error" })).toEqual(
      listed.body,
    )
    expect(listed.body.conversations).toEqual([
      { id: own.body.conversationId, name: "Scout" },
      { id: side.body.conversationId, name: "Side chat" },
      { id: lonely.body.conversationId, name: "Nobody here" },
    ])

    const unknown = await call("/convos/leave", { method: "POST", body: { conversationId: "not-a-conversation" } })
    expect(unknown.status).toBe(404)
    expect(unknown.body).toMatchObject({ code: "UnknownConversation" })
    expect(unknown.body.error).toMatch(/not in conversation not-a-conversation; GET \/convos\/conversations lists/)
    expect((await call("/convos/leave", { method: "POST", body: {} })).body).toMatchObject({ field: "conversationId" })
    // Alone in it: the network has nobody to leave it to (XMTP refuses the 1 -> 0 commit); the agent stays.
    const alone = await call("/convos/leave", { method: "POST", body: { conversationId: lonely.body.conversationId } })
    expect(alone).toMatchObject({ status: 409, body: { code: "CannotLeave" } })

    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const ada = yield* connectPerson(devnet.url, "ada")
          const bob = yield* connectPerson(devnet.url, "bob")
          expect(yield* joinInvite(ada, own.body.inviteUrl)).toMatchObject({ _tag: "Joined" })
          expect(yield* joinInvite(bob, side.body.inviteUrl)).toMatchObject({ _tag: "Joined" })
          yield* answered(ada, own.body.conversationId, "before")
          const agentInbox = (yield* Effect.promise(() => call("/convos/status"))).body.inboxId as string

          const left = yield* Effect.promise(() =>
            call("/convos/leave", { method: "POST", body: { conversationId: own.body.conversationId } }),
          )
          expect(left.status).toBe(200)
          expect(Schema.decodeUnknownSync(LeaveAnswer)(left.body)).toEqual({ left: own.body.conversationId })
          // Ada sees it go: removed from the members (she is the super admin now) with a membership change.
          expect(yield* ada.client.members(own.body.conversationId)).toEqual([
            { inboxId: ada.identity.inboxId, role: "super_admin" },
          ])
          const changes = yield* ada.client.messages(own.body.conversationId)
          expect(changes.flatMap((m) => m.membership?.removed ?? [])).toContain(agentInbox)

          // Ada's message goes first; once Bob's (sent after it) is answered, hers never will be.
          const before = turns.length
          yield* ada.client.sendText(own.body.conversationId, "are you there?")
          yield* answered(bob, side.body.conversationId, "still here?")
          expect(turns.slice(before)).toEqual([side.body.conversationId])

          // Its invite went with its conversation.
          expect((yield* Effect.promise(() => call("/pool/health"))).body).toMatchObject({
            conversationId: null,
            inviteUrl: null,
          })
          expect((yield* Effect.promise(() => call("/convos/invite", { method: "POST" }))).status).toBe(409)
          // A conversation with its own identity is left the same way.
          const sideLeft = yield* Effect.promise(() =>
            call("/convos/leave", { method: "POST", body: { conversationId: side.body.conversationId } }),
          )
          expect(sideLeft.status).toBe(200)
          expect((yield* bob.client.members(side.body.conversationId)).map((m) => m.inboxId)).toEqual([
            bob.identity.inboxId,
          ])
        }),
      ),
    )
    expect((await call("/convos/conversations")).body.conversations).toEqual([
      { id: lonely.body.conversationId, name: "Nobody here" },
    ])
    const again = await call("/convos/leave", { method: "POST", body: { conversationId: own.body.conversationId } })
    expect(again.status).toBe(404)
    // A new name after leaving goes only where the agent still is: the conversations it left are not tried (nor
    // counted), so the change is whole instead of 'reached 1 of 2'.
    const renamed = await call("/pool/agent", { method: "PATCH", body: { agentName: "Scout Two" } })
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(200)
    const pictured = await call("/pool/agent", {
      method: "PATCH",
      body: {
        avatar: { contentType: "image/png", data: Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]).toString("base64") },
      },
    })
    expect(pictured.status, JSON.stringify(pictured.body)).toBe(200)
    expect([...services.avatarBlobs.values()].map((b) => b.conversationId)).toEqual([lonely.body.conversationId])
    expect(services.violations).toEqual([])
  })
})
