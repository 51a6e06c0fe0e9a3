import { assert, describe, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { generateIdentity } from "../../identity.ts"
import { Messaging } from "../../Messaging.ts"
import { DevnetTest } from "../../devnet/testing.ts"
import { displayNames } from "../contentTypes.ts"
import { handleJoinRequest, type InviteCreatorOptions, type JoinOutcome } from "../creator.ts"
import { createInviteSlug, inviteUrlBase, randomTag } from "../invite.ts"
import { joinByInvite, type JoinResult } from "../joiner.ts"
import { decodeMetadata, encodeMetadata } from "../metadata.ts"

// Creator and joiner are separate clients on one real devnet server. The creator handles join requests the way the
// Convos app does (here driven by polling its DMs, as a creator device does when woken by a push).

const setup = Effect.gen(function* () {
  const messaging = yield* Messaging
  const creatorId = generateIdentity()
  const joinerId = generateIdentity()
  const creator = yield* messaging.connect(creatorId, { label: "creator" })
  const joiner = yield* messaging.connect(joinerId, { label: "joiner" })
  return { creatorId, joinerId, creator, joiner }
})

type Clients = Effect.Success<typeof setup>

/** Runs the joiner while the creator processes its DMs until the join settles. */
const joinWhileCreatorServes = (c: Clients, url: string, options: InviteCreatorOptions = {}, timeoutMs = 10_000) =>
  Effect.gen(function* () {
    const outcomes: JoinOutcome[] = []
    const seen = new Set<string>()
    const serve = Effect.gen(function* () {
      for (;;) {
        for (const conv of yield* c.creator.conversations) {
          if (conv.kind !== "dm") continue
          for (const m of yield* c.creator.messages(conv.id)) {
            if (seen.has(m.id)) continue
            seen.add(m.id)
            const o = yield* handleJoinRequest(c.creator, c.creatorId, m, options)
            if (o._tag !== "Ignored") outcomes.push(o)
          }
        }
        yield* Effect.sleep(100)
      }
    })
    const result = yield* Effect.raceFirst(
      joinByInvite(c.joiner, c.joinerId, url, { profile: { name: "Joiner Bot", kind: "agent" }, timeoutMs, pollMs: 100 }).pipe(Effect.result),
      serve.pipe(Effect.as(null as never))
    )
    return { result, outcomes }
  })

layer(DevnetTest, { timeout: "60 seconds", excludeTestServices: true })("Convos join protocol over devnet", (it) => {
  it.effect("a person joins a group through its invite, and the group learns their profile name", () =>
    Effect.gen(function* () {
      const c = yield* setup
      const tag = randomTag()
      const group = yield* c.creator.createGroup([], { name: "Trip", appData: encodeMetadata({ tag }) })
      const url = inviteUrlBase("dev") + createInviteSlug(c.creatorId, { conversationId: group.id, tag, name: "Trip" })
      const { result, outcomes } = yield* joinWhileCreatorServes(c, url)
      assert.strictEqual(result._tag, "Success")
      const joined = (result as { success: JoinResult }).success
      assert.deepStrictEqual(joined, { _tag: "Joined", conversationId: group.id, tag })
      assert.deepStrictEqual(outcomes.map((o) => o._tag), ["Joined"])
      const members = yield* c.creator.members(group.id)
      assert.includeMembers(members.map((m) => m.inboxId), [c.joinerId.inboxId])
      yield* Effect.sleep(200)
      const names = displayNames(yield* c.creator.messages(group.id))
      assert.strictEqual(names.get(c.joinerId.inboxId), "Joiner Bot")
    }))

  it.effect("a lobby invite gives each requester a fresh private group with the invite's tag", () =>
    Effect.gen(function* () {
      const c = yield* setup
      const tag = randomTag()
      const lobbyId = "lobby-manager"
      const url = inviteUrlBase("dev") + createInviteSlug(c.creatorId, { conversationId: lobbyId, tag, name: "Agent manager" })
      const created: string[] = []
      const { result } = yield* joinWhileCreatorServes(c, url, {
        route: (ctx) =>
          ctx.conversationId === lobbyId
            ? c.creator.createGroup([], { name: "Agent manager", appData: encodeMetadata({ tag }) }).pipe(
                Effect.map((g) => (created.push(g.id), g.id))
              )
            : Effect.succeed(ctx.conversationId),
      })
      assert.strictEqual(result._tag, "Success")
      const joined = (result as { success: JoinResult }).success
      assert.strictEqual(joined._tag, "Joined")
      assert.strictEqual(created.length, 1)
      assert.strictEqual(joined._tag === "Joined" && joined.conversationId, created[0])
      const members = (yield* c.creator.members(created[0]!)).map((m) => m.inboxId).sort()
      assert.deepStrictEqual(members, [c.creatorId.inboxId, c.joinerId.inboxId].sort())
      const conv = yield* c.joiner.conversation(created[0]!)
      assert.strictEqual(Option.isSome(conv) && decodeMetadata(conv.value.appData)?.tag, tag)
    }))

  it.effect("a revoked invite (group tag rotated) is refused with an error in the DM", () =>
    Effect.gen(function* () {
      const c = yield* setup
      const tag = randomTag()
      const group = yield* c.creator.createGroup([], { name: "Locked", appData: encodeMetadata({ tag }) })
      const url = inviteUrlBase("dev") + createInviteSlug(c.creatorId, { conversationId: group.id, tag })
      yield* c.creator.updateGroup(group.id, { appData: encodeMetadata({ tag: randomTag() }) })
      const { result, outcomes } = yield* joinWhileCreatorServes(c, url)
      assert.strictEqual(result._tag, "Failure")
      assert.strictEqual((result as { failure: { _tag: string; errorType: string } }).failure.errorType, "conversation_expired")
      assert.deepStrictEqual(outcomes.map((o) => o._tag), ["Refused"])
      assert.notInclude((yield* c.creator.members(group.id)).map((m) => m.inboxId), c.joinerId.inboxId)
    }))

  it.effect("an invite forged in the creator's name is treated as spam: DM consent denied, nobody added", () =>
    Effect.gen(function* () {
      const c = yield* setup
      const tag = randomTag()
      const group = yield* c.creator.createGroup([], { appData: encodeMetadata({ tag }) })
      // The forger signs with its own key but names the creator's inbox as the creator.
      const forger = generateIdentity()
      const forgedSlug = createInviteSlug({ ...forger, inboxId: c.creatorId.inboxId }, { conversationId: group.id, tag })
      const { result, outcomes } = yield* joinWhileCreatorServes(c, inviteUrlBase("dev") + forgedSlug, {}, 1_500)
      assert.deepStrictEqual(result._tag === "Success" && result.success._tag, "Pending")
      assert.deepStrictEqual(outcomes.map((o) => o._tag === "Refused" && o.errorType), ["spam"])
      const dm = yield* c.creator.dm(c.joinerId.inboxId)
      assert.strictEqual(yield* c.creator.consent(dm.id), "denied")
      assert.strictEqual((yield* c.creator.members(group.id)).length, 1)
    }))
})
