import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { conformanceCases } from "../conformance.ts"
import { bytesToHex } from "@noble/hashes/utils.js"
import { generateIdentity, signRecoverable } from "../identity.ts"
import { challengeMessage } from "./wire.ts"
import { Messaging } from "../Messaging.ts"
import { makeDevnetMessaging } from "./DevnetMessaging.ts"
import { DevnetServer, startDevnetServer } from "./server.ts"
import { DevnetTest } from "./testing.ts"

layer(DevnetTest, { excludeTestServices: true })("devnet conformance", (it) => {
  for (const c of conformanceCases) {
    it.effect(c.name, () =>
      Effect.flatMap(
        Effect.gen(function* () {
          return yield* Messaging
        }),
        c.run,
      ),
    )
  }

  it.effect("refuses a session whose challenge signature does not match", () =>
    Effect.gen(function* () {
      const { url } = yield* DevnetServer
      const { challenge } = (yield* Effect.promise(() =>
        fetch(`${url}/v1/challenge`, { method: "POST" }).then((r) => r.json()),
      )) as { challenge: string }
      const res = yield* Effect.promise(() =>
        fetch(`${url}/v1/connect`, { method: "POST", body: JSON.stringify({ challenge, signature: "00".repeat(65) }) }),
      )
      expect(res.status).toBe(401)
      const anonymous = yield* Effect.promise(() => fetch(`${url}/v1/conversations`, { method: "POST", body: "{}" }))
      expect(anonymous.status).toBe(401)
    }),
  )

  it.effect("validates request bodies at the edge and names what is wrong", () =>
    Effect.gen(function* () {
      const { url } = yield* DevnetServer
      const identity = generateIdentity()
      const { challenge } = (yield* Effect.promise(() =>
        fetch(`${url}/v1/challenge`, { method: "POST" }).then((r) => r.json()),
      )) as { challenge: string }
      const session = (yield* Effect.promise(() =>
        fetch(`${url}/v1/connect`, {
          method: "POST",
          body: JSON.stringify({
            challenge,
            signature: bytesToHex(signRecoverable(identity, challengeMessage(challenge))),
          }),
        }).then((r) => r.json()),
      )) as { token: string; inboxId: string }
      expect(session.inboxId).toBe(identity.inboxId)
      const post = (op: string, body: unknown) =>
        Effect.promise(() =>
          fetch(`${url}/v1/${op}`, {
            method: "POST",
            headers: { authorization: `Bearer ${session.token}` },
            body: JSON.stringify(body),
          }).then(async (r) => ({ status: r.status, body: (await r.json()) as { reason: string; message: string } })),
        )
      const bad = yield* post("createGroup", { members: ["not-an-inbox"] })
      expect(bad.status).toBe(400)
      expect(bad.body.reason).toBe("invalid")
      expect(bad.body.message).toMatch(/members/)
      expect((yield* post("setConsent", { conversationId: "x", consent: "maybe" })).status).toBe(400)
      expect((yield* post("nope", {})).body.reason).toBe("not-found")
      // A replayed challenge is refused: each login needs a fresh one.
      const replay = yield* Effect.promise(() =>
        fetch(`${url}/v1/connect`, {
          method: "POST",
          body: JSON.stringify({
            challenge,
            signature: bytesToHex(signRecoverable(identity, challengeMessage(challenge))),
          }),
        }),
      )
      expect(replay.status).toBe(401)
    }),
  )
})

describe("devnet server restart", () => {
  it.live("keeps identities, conversations, membership, consent and messages; streams resume across it", () =>
    Effect.gen(function* () {
      const dataDir = mkdtempSync(join(tmpdir(), "convos-devnet-restart-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
      const first = yield* Effect.promise(() => startDevnetServer({ port: 0, dataDir }))
      const port = Number(new URL(first.url).port)
      const messaging = makeDevnetMessaging(first.url)
      const [ida, idb] = [generateIdentity(), generateIdentity()]
      const a = yield* messaging.connect(ida)
      const b = yield* messaging.connect(idb)
      const group = yield* a.createGroup([b.inboxId], { name: "persisted", appData: "tag" })
      yield* b.setConsent(group.id, "allowed")
      yield* a.sendText(group.id, "before restart")
      // b streams across the restart: it must get the message sent after the restart exactly once.
      const received = yield* b.stream({ afterMs: 0 }).pipe(
        Stream.filter((m) => m.kind === "application"),
        Stream.take(2),
        Stream.runCollect,
        Effect.timeout("30 seconds"),
        Effect.forkScoped,
      )
      yield* Effect.sleep("300 millis")
      yield* Effect.promise(() => first.close())
      const second = yield* Effect.promise(() => startDevnetServer({ port, dataDir }))
      yield* Effect.addFinalizer(() => Effect.promise(() => second.close()))
      // Existing sessions survive the restart (a's client keeps working without reconnecting).
      yield* a.sendText(group.id, "after restart")
      const got = yield* Effect.exit(Fiber.join(received))
      expect(got._tag).toBe("Success")
      if (got._tag === "Success") expect([...got.value].map((m) => m.text)).toEqual(["before restart", "after restart"])
      expect(yield* b.consent(group.id)).toBe("allowed")
      const info = yield* b.conversation(group.id)
      expect(info._tag === "Some" && info.value.name).toBe("persisted")
      expect((yield* a.members(group.id)).map((m) => m.role).sort()).toEqual(["member", "super_admin"])
      // A reconnecting client of the same key is the same inbox and sees the history.
      const b2 = yield* makeDevnetMessaging(second.url).connect(idb)
      expect((yield* b2.messages(group.id)).filter((m) => m.text).map((m) => m.text)).toEqual([
        "before restart",
        "after restart",
      ])
    }).pipe(Effect.scoped),
  )
})
