import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { generateIdentity } from "../../identity.ts"
import { Messaging } from "../../Messaging.ts"
import { DevnetTest } from "../../devnet/testing.ts"
import { InviteJoinErrorType, isType, joinRequestContent, readJoinError } from "../contentTypes.ts"
import { serveJoinRequests } from "../creator.ts"
import { InviteError } from "../errors.ts"
import { createInviteSlug, decodeInvite, parseInvite, randomTag } from "../invite.ts"
import { joinByInvite } from "../joiner.ts"
import { encodeMetadata } from "../metadata.ts"

// Invite decoding never throws anything but InviteError: a damaged link (a broken percent-escape such as
// `%E0%A4%A`, which makes decodeURIComponent throw URIError) is "malformed", and a joiner who sends one to a creator
// gets the protocol's error reply instead of silence.

const BAD_ESCAPE = "https://convos.org/i/%E0%A4%A"

const reasonOf = (input: string): string => {
  try {
    decodeInvite(input)
    return "decoded"
  } catch (e) {
    if (e instanceof InviteError) return e.reason
    return `threw ${(e as Error)?.constructor?.name}: ${String(e)}`
  }
}

describe("invite decoding never throws anything but InviteError", () => {
  it("a broken percent-escape in the path is an InviteError 'malformed' that says to copy the link again", () => {
    assert.strictEqual(reasonOf(BAD_ESCAPE), "malformed")
    assert.throws(() => parseInvite(BAD_ESCAPE), /copy the whole link again/)
    for (const url of [
      "https://convos.org/invite/%",
      "https://popup.convos.org/join/abc%ZZdef",
      "https://dev.convos.org/v2?i=%E0%A4%A",
    ]) {
      assert.strictEqual(reasonOf(url), "malformed", url)
    }
  })

  it("seeded random damage to a real invite link (escapes, bytes, cuts) only ever gives InviteError", () => {
    const me = generateIdentity()
    const slug = createInviteSlug(me, { conversationId: "c-1", tag: randomTag(), name: "Trip" })
    let seed = 20261203
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const pieces = ["%", "%E0", "%A4%A", "%ZZ", "%25", "%00", "*", "/", "?", "#", "\u0000", "\ud800", "é", "%F0%9F"]
    const bases = [
      "https://convos.org/i/",
      "https://popup.convos.org/v2?i=",
      "convos://join/",
      "https://dev.convos.org/invite/",
      "",
    ]
    const outcomes = new Map<string, number>()
    for (let n = 0; n < 3_000; n++) {
      const chars = [...slug]
      for (let k = 0; k < 1 + Math.floor(random() * 4); k++) {
        const at = Math.floor(random() * chars.length)
        const what = random()
        if (what < 0.5) chars.splice(at, 0, pieces[Math.floor(random() * pieces.length)]!)
        else if (what < 0.8) chars[at] = String.fromCharCode(Math.floor(random() * 0x3000))
        else chars.length = at
      }
      const outcome = reasonOf(bases[Math.floor(random() * bases.length)]! + chars.join(""))
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
    }
    const thrown = [...outcomes.keys()].filter((k) => k.startsWith("threw"))
    assert.deepStrictEqual(thrown, [], `non-InviteError throws: ${thrown.join("; ")}`)
    assert.isAbove(outcomes.get("malformed") ?? 0, 0)
  })
})

layer(DevnetTest, { timeout: "60 seconds", excludeTestServices: true })(
  "a malformed invite over the devnet join protocol",
  (it) => {
    it.effect("a joiner who DMs a creator the broken-escape link gets an invite_join_error saying 'malformed'", () =>
      Effect.gen(function* () {
        const messaging = yield* Messaging
        const creatorId = generateIdentity()
        const joinerId = generateIdentity()
        const creator = yield* messaging.connect(creatorId, { label: "creator" })
        const joiner = yield* messaging.connect(joinerId, { label: "joiner" })
        // The creator serves join requests the way the manager bot and agents do (its own stream loop).
        const tag = randomTag()
        yield* creator.createGroup([], { name: "Trip", appData: encodeMetadata({ tag }) })
        const serving = yield* Effect.forkChild(serveJoinRequests(creator, creatorId))
        yield* Effect.sleep(200) // the stream is subscribed

        // What an app that does not check the link first sends: the typed request plus the text copy.
        const dm = yield* joiner.dm(creatorId.inboxId)
        yield* joiner.send(
          dm.id,
          joinRequestContent({ inviteSlug: BAD_ESCAPE, profile: { name: "Joiner", memberKind: "agent" } }),
        )
        let errors: Array<ReturnType<typeof readJoinError>> = []
        for (let i = 0; i < 100 && errors.length === 0; i++) {
          yield* joiner.sync
          errors = (yield* joiner.messages(dm.id))
            .filter((m) => m.senderInboxId === creatorId.inboxId && isType(m, InviteJoinErrorType))
            .map(readJoinError)
          if (errors.length === 0) yield* Effect.sleep(100)
        }
        yield* Fiber.interrupt(serving)
        assert.strictEqual(errors.length, 1, "exactly one error reply")
        assert.strictEqual(errors[0]!.errorType, "generic_failure")
        assert.match(errors[0]!.reason ?? "", /malformed/)
        assert.match(errors[0]!.reason ?? "", /copy the whole link again/)
      }),
    )

    it.effect("joinByInvite with the broken-escape link fails as InviteError 'malformed' before sending anything", () =>
      Effect.gen(function* () {
        const messaging = yield* Messaging
        const me = generateIdentity()
        const client = yield* messaging.connect(me, { label: "joiner" })
        const failure = yield* Effect.flip(
          joinByInvite(client, me, BAD_ESCAPE, { profile: { name: "J", kind: "agent" }, timeoutMs: 1_000 }),
        )
        assert.instanceOf(failure, InviteError)
        assert.strictEqual((failure as InviteError).reason, "malformed")
        assert.match((failure as InviteError).message, /copy the whole link again/)
        assert.deepStrictEqual(
          (yield* client.conversations).filter((c) => c.kind === "dm"),
          [],
        )
      }),
    )
  },
)
