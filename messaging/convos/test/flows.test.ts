import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Option } from "effect"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { generateIdentity } from "../../identity.ts"
import { Messaging, type MessagingClient, type MessagingIdentity } from "../../Messaging.ts"
import { DevnetTest } from "../../devnet/testing.ts"
import { displayNames } from "../contentTypes.ts"
import { handleJoinRequest, type InviteCreatorOptions, type JoinOutcome, usedInviteFileStore } from "../creator.ts"
import {
  createInviteSlug,
  decodeInvite,
  encodePayload,
  encodeSlug,
  type InvitePayload,
  inviteUrlBase,
  randomTag,
} from "../invite.ts"
import { JoinFailed, joinByInvite, type JoinResult } from "../joiner.ts"
import { decodeMetadata, encodeMetadata } from "../metadata.ts"

// Creator and joiner are separate clients on one real devnet server. The creator handles join requests the way the
// Convos app does (here driven by polling its DMs, as a creator device does when woken by a push).

const setup = Effect.gen(function* () {
  const messaging = yield* Messaging
  const creatorId = generateIdentity()
  const joinerId = generateIdentity()
  const creator = yield* messaging.connect(creatorId, { label: "creator" })
  const joiner = yield* messaging.connect(joinerId, { label: "joiner" })
  const another = (label: string) =>
    Effect.gen(function* () {
      const id = generateIdentity()
      return { id, client: yield* messaging.connect(id, { label }) }
    })
  // The creator's ledger of handled join-request messages (a real creator persists it).
  const seen = new Set<string>()
  return { creatorId, joinerId, creator, joiner, another, seen }
})

type Clients = Effect.Success<typeof setup>

interface JoinRun {
  readonly timeoutMs?: number
  /** Someone other than c.joiner joins. */
  readonly as?: { readonly id: MessagingIdentity; readonly client: MessagingClient }
  /** The creator's device handles requests only after this long (it was offline). */
  readonly creatorOfflineMs?: number
}

/** Runs the joiner while the creator processes its DMs until the join settles. */
const joinWhileCreatorServes = (c: Clients, url: string, options: InviteCreatorOptions = {}, run: JoinRun = {}) =>
  Effect.gen(function* () {
    const outcomes: JoinOutcome[] = []
    const serve = Effect.gen(function* () {
      if (run.creatorOfflineMs) yield* Effect.sleep(run.creatorOfflineMs)
      for (;;) {
        for (const conv of yield* c.creator.conversations) {
          if (conv.kind !== "dm") continue
          for (const m of yield* c.creator.messages(conv.id)) {
            if (c.seen.has(m.id)) continue
            c.seen.add(m.id)
            const o = yield* handleJoinRequest(c.creator, c.creatorId, m, options)
            if (o._tag !== "Ignored") outcomes.push(o)
          }
        }
        yield* Effect.sleep(100)
      }
    })
    const joiner = run.as ?? { id: c.joinerId, client: c.joiner }
    const started = Date.now()
    const result = yield* Effect.raceFirst(
      joinByInvite(joiner.client, joiner.id, url, {
        profile: { name: "Joiner Bot", kind: "agent" },
        timeoutMs: run.timeoutMs ?? 10_000,
        pollMs: 100,
      }).pipe(Effect.result),
      serve.pipe(Effect.as(null as never)),
    )
    return { result, outcomes, elapsedMs: Date.now() - started }
  })

const failureOf = (result: Effect.Success<ReturnType<typeof joinWhileCreatorServes>>["result"]) => {
  assert.strictEqual(result._tag, "Failure", `expected the join to fail, got ${JSON.stringify(result)}`)
  const failure = (result as { failure: unknown }).failure
  assert.instanceOf(failure, JoinFailed)
  return failure as JoinFailed
}

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
      assert.deepStrictEqual(
        outcomes.map((o) => o._tag),
        ["Joined"],
      )
      const members = yield* c.creator.members(group.id)
      assert.includeMembers(
        members.map((m) => m.inboxId),
        [c.joinerId.inboxId],
      )
      yield* Effect.sleep(200)
      const names = displayNames(yield* c.creator.messages(group.id))
      assert.strictEqual(names.get(c.joinerId.inboxId), "Joiner Bot")
    }),
  )

  it.effect("a lobby invite gives each requester a fresh private group with the invite's tag", () =>
    Effect.gen(function* () {
      const c = yield* setup
      const tag = randomTag()
      const lobbyId = "lobby-manager"
      const url =
        inviteUrlBase("dev") + createInviteSlug(c.creatorId, { conversationId: lobbyId, tag, name: "Agent manager" })
      const created: string[] = []
      const { result } = yield* joinWhileCreatorServes(c, url, {
        route: (ctx) =>
          ctx.conversationId === lobbyId
            ? c.creator.createGroup([], { name: "Agent manager", appData: encodeMetadata({ tag }) }).pipe(
                Effect.map((g) => {
                  created.push(g.id)
                  return g.id
                }),
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
    }),
  )

  it.effect("a revoked invite (group tag rotated) is refused with an error in the DM", () =>
    Effect.gen(function* () {
      const c = yield* setup
      const tag = randomTag()
      const group = yield* c.creator.createGroup([], { name: "Locked", appData: encodeMetadata({ tag }) })
      const url = inviteUrlBase("dev") + createInviteSlug(c.creatorId, { conversationId: group.id, tag })
      yield* c.creator.updateGroup(group.id, { appData: encodeMetadata({ tag: randomTag() }) })
      const { result, outcomes } = yield* joinWhileCreatorServes(c, url)
      assert.strictEqual(result._tag, "Failure")
      assert.strictEqual(
        (result as { failure: { _tag: string; errorType: string } }).failure.errorType,
        "conversation_expired",
      )
      assert.deepStrictEqual(
        outcomes.map((o) => o._tag),
        ["Refused"],
      )
      assert.notInclude(
        (yield* c.creator.members(group.id)).map((m) => m.inboxId),
        c.joinerId.inboxId,
      )
    }),
  )

  it.effect(
    "an invite signed with another key in the creator's name is treated as spam: DM consent denied, nobody added",
    () =>
      Effect.gen(function* () {
        const c = yield* setup
        const tag = randomTag()
        const group = yield* c.creator.createGroup([], { appData: encodeMetadata({ tag }) })
        // The forger signs with its own key but names the creator's inbox as the creator.
        const forger = generateIdentity()
        const forgedSlug = createInviteSlug(
          { ...forger, inboxId: c.creatorId.inboxId },
          { conversationId: group.id, tag },
        )
        const { result, outcomes } = yield* joinWhileCreatorServes(
          c,
          inviteUrlBase("dev") + forgedSlug,
          {},
          { timeoutMs: 1_500 },
        )
        assert.deepStrictEqual(result._tag === "Success" && result.success._tag, "Pending")
        assert.deepStrictEqual(
          outcomes.map((o) => o._tag === "Refused" && o.errorType),
          ["spam"],
        )
        const dm = yield* c.creator.dm(c.joinerId.inboxId)
        assert.strictEqual(yield* c.creator.consent(dm.id), "denied")
        assert.strictEqual((yield* c.creator.members(group.id)).length, 1)
      }),
  )

  // A real invite of the creator, one signed field changed, its original token and signature kept: the token still
  // decrypts and names the real group, so only the signature check tells it apart from the creator's own invite.
  const tampered = (slug: string, change: (p: InvitePayload) => InvitePayload) => {
    const real = decodeInvite(slug)
    return encodeSlug(encodePayload(change(real.payload)), real.signature)
  }

  /** Lets the creator handle what is still in its DMs until it has answered at least one join request. */
  const untilCreatorAnswered = (c: Clients, outcomes: JoinOutcome[]) =>
    Effect.gen(function* () {
      for (let round = 0; round < 200 && outcomes.length === 0; round++) {
        for (const conv of yield* c.creator.conversations) {
          if (conv.kind !== "dm") continue
          for (const m of yield* c.creator.messages(conv.id)) {
            if (c.seen.has(m.id)) continue
            c.seen.add(m.id)
            const o = yield* handleJoinRequest(c.creator, c.creatorId, m, {})
            if (o._tag !== "Ignored") outcomes.push(o)
          }
        }
        if (outcomes.length === 0) yield* Effect.sleep(100)
      }
    })

  it.effect(
    "a real invite whose tag was changed (token and signature kept) is refused as forged: spam, nobody added",
    () =>
      Effect.gen(function* () {
        const c = yield* setup
        const tag = randomTag()
        const group = yield* c.creator.createGroup([], { name: "Tagged", appData: encodeMetadata({ tag }) })
        const real = createInviteSlug(c.creatorId, { conversationId: group.id, tag })
        const forgedSlug = tampered(real, (p) => ({ ...p, tag: randomTag() }))
        assert.strictEqual(
          decodeInvite(forgedSlug).payload.creatorInboxId,
          c.creatorId.inboxId,
          "still names the creator",
        )
        const { result, outcomes } = yield* joinWhileCreatorServes(
          c,
          inviteUrlBase("dev") + forgedSlug,
          {},
          { timeoutMs: 1_500 },
        )
        yield* untilCreatorAnswered(c, outcomes)
        assert.deepStrictEqual(
          result._tag === "Success" && result.success._tag,
          "Pending",
          "a forger hears nothing back",
        )
        // Not "revoked" (a tag that no longer matches the group): a forgery, whose DM is treated as spam.
        assert.deepStrictEqual(
          outcomes.map((o) => o._tag === "Refused" && o.errorType),
          ["spam"],
        )
        assert.strictEqual(yield* c.creator.consent((yield* c.creator.dm(c.joinerId.inboxId)).id), "denied")
        assert.deepStrictEqual(
          (yield* c.creator.members(group.id)).map((m) => m.inboxId),
          [c.creatorId.inboxId],
        )
      }),
  )

  it.effect(
    "an expired real invite whose expiry was pushed into the future (token and signature kept) is refused as forged: nobody added",
    () =>
      Effect.gen(function* () {
        const c = yield* setup
        const tag = randomTag()
        const group = yield* c.creator.createGroup([], { name: "Was open", appData: encodeMetadata({ tag }) })
        const real = createInviteSlug(c.creatorId, {
          conversationId: group.id,
          tag,
          expiresAt: new Date(Date.now() - 60_000),
        })
        const forgedSlug = tampered(real, (p) => ({ ...p, expiresAt: Math.floor(Date.now() / 1000) + 3_600 }))
        const { result, outcomes } = yield* joinWhileCreatorServes(
          c,
          inviteUrlBase("dev") + forgedSlug,
          {},
          { timeoutMs: 1_500 },
        )
        yield* untilCreatorAnswered(c, outcomes)
        assert.deepStrictEqual(
          result._tag === "Success" && result.success._tag,
          "Pending",
          "a forger hears nothing back",
        )
        assert.deepStrictEqual(
          outcomes.map((o) => o._tag === "Refused" && o.errorType),
          ["spam"],
        )
        assert.deepStrictEqual(
          (yield* c.creator.members(group.id)).map((m) => m.inboxId),
          [c.creatorId.inboxId],
        )
      }),
  )

  // --- the creator's error replies: the joiner hears the reason quickly instead of waiting out its timeout ---------
  // "Quickly" is relative to the joiner's own timeout: without the reply it would wait JOIN_TIMEOUT_MS and end Pending.
  const JOIN_TIMEOUT_MS = 20_000

  it.effect("an invite that expired before the creator got to it: the joiner is told it expired", () =>
    Effect.gen(function* () {
      const c = yield* setup
      const tag = randomTag()
      const group = yield* c.creator.createGroup([], { name: "Soon over", appData: encodeMetadata({ tag }) })
      const url =
        inviteUrlBase("dev") +
        createInviteSlug(c.creatorId, { conversationId: group.id, tag, expiresAt: new Date(Date.now() + 2_000) })
      // The creator's device was offline until after the invite expired (expiry has 1 s resolution).
      const { result, outcomes, elapsedMs } = yield* joinWhileCreatorServes(
        c,
        url,
        {},
        { timeoutMs: JOIN_TIMEOUT_MS, creatorOfflineMs: 2_500 },
      )
      const failure = failureOf(result)
      assert.strictEqual(failure.errorType, "conversation_expired")
      assert.match(failure.message, /expired/)
      assert.isBelow(elapsedMs, JOIN_TIMEOUT_MS, "answered by the creator's reply, before the joiner's own timeout")
      assert.deepStrictEqual(
        outcomes.map((o) => o._tag === "Refused" && o.errorType),
        ["conversation_expired"],
      )
      assert.notInclude(
        (yield* c.creator.members(group.id)).map((m) => m.inboxId),
        c.joinerId.inboxId,
      )
    }),
  )

  it.effect("an invite to a conversation that no longer exists: conversation_not_found", () =>
    Effect.gen(function* () {
      const c = yield* setup
      const tag = randomTag()
      const url =
        inviteUrlBase("dev") +
        createInviteSlug(c.creatorId, { conversationId: "0123456789abcdef0123456789abcdef", tag })
      const { result, elapsedMs } = yield* joinWhileCreatorServes(c, url, {}, { timeoutMs: JOIN_TIMEOUT_MS })
      const failure = failureOf(result)
      assert.strictEqual(failure.errorType, "conversation_not_found")
      assert.match(failure.message, /no longer exists/)
      assert.isBelow(elapsedMs, JOIN_TIMEOUT_MS, "answered by the creator's reply, before the joiner's own timeout")
    }),
  )

  it.effect("an invite to a conversation the creator blocked (consent denied): consent_not_allowed", () =>
    Effect.gen(function* () {
      const c = yield* setup
      const tag = randomTag()
      const group = yield* c.creator.createGroup([], { appData: encodeMetadata({ tag }) })
      const url = inviteUrlBase("dev") + createInviteSlug(c.creatorId, { conversationId: group.id, tag })
      yield* c.creator.setConsent(group.id, "denied")
      const { result, elapsedMs } = yield* joinWhileCreatorServes(c, url, {}, { timeoutMs: JOIN_TIMEOUT_MS })
      const failure = failureOf(result)
      assert.strictEqual(failure.errorType, "consent_not_allowed")
      assert.match(failure.message, /not accepting new members/)
      assert.isBelow(elapsedMs, JOIN_TIMEOUT_MS, "answered by the creator's reply, before the joiner's own timeout")
      assert.strictEqual((yield* c.creator.members(group.id)).length, 1)
    }),
  )

  it.effect(
    "when adding the joiner fails (creator is no admin of the group): generic_failure, without the network's raw error",
    () =>
      Effect.gen(function* () {
        const c = yield* setup
        const owner = yield* c.another("group owner")
        const tag = randomTag()
        // Someone else's group that the creator is only a member of: the creator's invite verifies, but it cannot add people.
        const group = yield* owner.client.createGroup([c.creatorId.inboxId], { appData: encodeMetadata({ tag }) })
        const url = inviteUrlBase("dev") + createInviteSlug(c.creatorId, { conversationId: group.id, tag })
        const { result, elapsedMs } = yield* joinWhileCreatorServes(c, url, {}, { timeoutMs: JOIN_TIMEOUT_MS })
        const failure = failureOf(result)
        assert.strictEqual(failure.errorType, "generic_failure")
        assert.match(failure.message, /could not add you to the conversation \(forbidden\)/)
        assert.notInclude(failure.message, c.joinerId.inboxId)
        assert.isBelow(elapsedMs, JOIN_TIMEOUT_MS, "answered by the creator's reply, before the joiner's own timeout")
        assert.notInclude(
          (yield* owner.client.members(group.id)).map((m) => m.inboxId),
          c.joinerId.inboxId,
        )
      }),
  )

  // --- single use ---------------------------------------------------------------------------------------------------

  it.effect("a reusable invite (Convos's default) admits several people until its tag is rotated", () =>
    Effect.gen(function* () {
      const c = yield* setup
      const second = yield* c.another("second joiner")
      const tag = randomTag()
      const group = yield* c.creator.createGroup([], { appData: encodeMetadata({ tag }) })
      const url = inviteUrlBase("dev") + createInviteSlug(c.creatorId, { conversationId: group.id, tag })
      assert.strictEqual((yield* joinWhileCreatorServes(c, url)).result._tag, "Success")
      assert.strictEqual((yield* joinWhileCreatorServes(c, url, {}, { as: second })).result._tag, "Success")
      const members = (yield* c.creator.members(group.id)).map((m) => m.inboxId)
      assert.includeMembers(members, [c.joinerId.inboxId, second.id.inboxId])
    }),
  )

  it.effect(
    "a single-use invite admits one person even into a busy group, and nobody else, also after they left and after a restart",
    () =>
      Effect.gen(function* () {
        const c = yield* setup
        const dir = mkdtempSync(join(tmpdir(), "convos-used-invites-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
        const ledger = join(dir, "used.json")
        const [friend, second, third] = [
          yield* c.another("friend"),
          yield* c.another("second joiner"),
          yield* c.another("third joiner"),
        ]
        const tag = randomTag()
        // The group already has several members: that must not count as "used".
        const group = yield* c.creator.createGroup([friend.id.inboxId], { appData: encodeMetadata({ tag }) })
        const url =
          inviteUrlBase("dev") + createInviteSlug(c.creatorId, { conversationId: group.id, tag, singleUse: true })

        const first = yield* joinWhileCreatorServes(c, url, { usedInvites: usedInviteFileStore(ledger) })
        assert.strictEqual(first.result._tag, "Success")
        assert.include(
          (yield* c.creator.members(group.id)).map((m) => m.inboxId),
          c.joinerId.inboxId,
        )

        const reused = yield* joinWhileCreatorServes(
          c,
          url,
          { usedInvites: usedInviteFileStore(ledger) },
          { as: second, timeoutMs: 20_000 },
        )
        const failure = failureOf(reused.result)
        assert.strictEqual(failure.errorType, "conversation_expired")
        assert.match(failure.message, /single-use invite was already used/)

        // Everyone but the creator leaves; the invite stays used — also for a creator restarted with the same ledger file.
        yield* c.creator.removeMembers(group.id, [c.joinerId.inboxId, friend.id.inboxId])
        const afterLeave = yield* joinWhileCreatorServes(
          c,
          url,
          { usedInvites: usedInviteFileStore(ledger) },
          { as: third, timeoutMs: 20_000 },
        )
        assert.strictEqual(failureOf(afterLeave.result).errorType, "conversation_expired")
        const members = (yield* c.creator.members(group.id)).map((m) => m.inboxId)
        assert.notInclude(members, second.id.inboxId)
        assert.notInclude(members, third.id.inboxId)
      }),
  )

  it.effect("single-use invites are recorded per creator under DATA_DIR by default", () =>
    Effect.gen(function* () {
      const c = yield* setup
      const dataDir = mkdtempSync(join(tmpdir(), "convos-used-default-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
      const second = yield* c.another("second joiner")
      const tag = randomTag()
      const group = yield* c.creator.createGroup([], { appData: encodeMetadata({ tag }) })
      const url =
        inviteUrlBase("dev") + createInviteSlug(c.creatorId, { conversationId: group.id, tag, singleUse: true })
      const withDataDir = Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ DATA_DIR: dataDir })))
      assert.strictEqual((yield* joinWhileCreatorServes(c, url).pipe(withDataDir)).result._tag, "Success")
      const ledger = join(dataDir, "convos", "used-invites", `${c.creatorId.inboxId}.json`)
      assert.isTrue(existsSync(ledger))
      assert.include(readFileSync(ledger, "utf8"), c.joinerId.inboxId)
      const reused = yield* joinWhileCreatorServes(c, url, {}, { as: second, timeoutMs: 20_000 }).pipe(withDataDir)
      assert.strictEqual(failureOf(reused.result).errorType, "conversation_expired")
    }),
  )

  it.effect(
    "a pending join polls less and less often: the wait between polls doubles from pollMs up to maxPollMs",
    () =>
      Effect.gen(function* () {
        const c = yield* setup
        const tag = randomTag()
        const group = yield* c.creator.createGroup([], { appData: encodeMetadata({ tag }) })
        const url = inviteUrlBase("dev") + createInviteSlug(c.creatorId, { conversationId: group.id, tag })
        // The creator's device is offline the whole time. Each poll starts with a sync and ends reading the DM replies:
        // the wait between polls is from the end of one to the start of the next.
        const polls: Array<{ start: number; end: number }> = []
        const joiner: MessagingClient = {
          ...c.joiner,
          sync: Effect.suspend(() => {
            polls.push({ start: Date.now(), end: Number.NaN })
            return c.joiner.sync
          }),
          messages: (id, o) =>
            c.joiner.messages(id, o).pipe(Effect.tap(() => Effect.sync(() => (polls.at(-1)!.end = Date.now())))),
        }
        const pollMs = 100
        const maxPollMs = 800
        const timeoutMs = 4_500
        const result = yield* joinByInvite(joiner, c.joinerId, url, {
          profile: { name: "Patient", kind: "agent" },
          timeoutMs,
          pollMs,
          maxPollMs,
        })
        assert.strictEqual(result._tag, "Pending")
        const waits = polls.slice(1).map((p, i) => p.start - polls[i]!.end)
        // Never sooner than the schedule says (a timer fires at or after its delay; 5 ms for clock granularity)…
        waits.forEach((w, i) => {
          assert.isAtLeast(w, Math.min(pollMs * 2 ** i, maxPollMs) - 5, `wait ${i} of ${JSON.stringify(waits)}`)
        })
        // …and capped: after the doublings the waits stop growing (the next doubling would be 1.6 s, then 3.2 s).
        assert.isAtLeast(waits.length, 6, JSON.stringify(waits))
        for (const w of waits.slice(4))
          assert.isBelow(w, 2 * maxPollMs, `capped at maxPollMs: ${JSON.stringify(waits)}`)
        // A fixed 100 ms poll would have made ~45 polls in that time.
        assert.isAtMost(polls.length, 4 + Math.ceil(timeoutMs / maxPollMs) + 1, JSON.stringify(waits))
      }),
  )
})
