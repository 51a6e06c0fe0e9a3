// One conformance suite for every Messaging adapter (devnet always, XMTP when XMTP_ENV is set). Each case connects fresh
// identities and checks the XMTP/Convos semantics the rest of the product relies on.
import { expect } from "vitest"
import { Effect, Fiber, Scope, Stream } from "effect"
import { generateIdentity } from "./identity.ts"
import type { ChatMessage, Messaging, MessagingClient } from "./Messaging.ts"
import type { MessagingError } from "./errors.ts"

export interface ConformanceCase {
  readonly name: string
  readonly run: (messaging: Messaging["Service"]) => Effect.Effect<void, unknown, Scope.Scope>
}

const connectNew = (messaging: Messaging["Service"], label: string) => messaging.connect(generateIdentity(), { label })

/** Re-reads until `check` passes (networks deliver asynchronously; devnet passes on the first read). */
export const eventually = <A, E>(read: Effect.Effect<A, E>, check: (a: A) => void, timeoutMs = 20_000) =>
  Effect.gen(function* () {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const a = yield* read
      try {
        check(a)
        return a
      } catch (e) {
        if (Date.now() > deadline) throw e
      }
      yield* Effect.sleep("200 millis")
    }
  })

const texts = (ms: ReadonlyArray<ChatMessage>) =>
  ms.filter((m) => m.kind === "application" && m.text !== null).map((m) => m.text)
const reasonOf = (e: MessagingError) => e.reason
const failure = <A>(eff: Effect.Effect<A, MessagingError>) => Effect.flip(eff).pipe(Effect.map(reasonOf))
const syncedMessages = (c: MessagingClient, id: string) => Effect.andThen(c.sync, c.messages(id))

/** Collects `n` stream items in the background; join the returned fiber to get them. */
const collect = (c: MessagingClient, n: number, afterMs?: number) =>
  c.stream(afterMs === undefined ? undefined : { afterMs }).pipe(
    Stream.filter((m) => m.kind === "application"),
    Stream.take(n),
    Stream.runCollect,
    Effect.timeout("30 seconds"),
    Effect.forkScoped,
  )

export const conformanceCases: ReadonlyArray<ConformanceCase> = [
  {
    name: "creator is super admin; only admins change membership and metadata",
    run: (m) =>
      Effect.gen(function* () {
        const [a, b, c] = [yield* connectNew(m, "a"), yield* connectNew(m, "b"), yield* connectNew(m, "c")]
        const group = yield* a.createGroup([b.inboxId], { name: "Team", description: "d", appData: "tag-1" })
        expect(group).toMatchObject({
          kind: "group",
          name: "Team",
          description: "d",
          appData: "tag-1",
          creatorInboxId: a.inboxId,
        })
        const roles = Object.fromEntries((yield* a.members(group.id)).map((x) => [x.inboxId, x.role]))
        expect(roles).toEqual({ [a.inboxId]: "super_admin", [b.inboxId]: "member" })
        yield* b.sync
        expect(yield* failure(b.addMembers(group.id, [c.inboxId]))).toBe("forbidden")
        expect(yield* failure(b.updateGroup(group.id, { name: "hijacked" }))).toBe("forbidden")
        yield* a.addMembers(group.id, [c.inboxId])
        yield* a.updateGroup(group.id, { name: "Team 2", appData: "tag-2" })
        yield* eventually(Effect.andThen(b.sync, b.conversation(group.id)), (info) => {
          expect(info._tag).toBe("Some")
          if (info._tag === "Some")
            expect(info.value).toMatchObject({ name: "Team 2", appData: "tag-2", description: "d" })
        })
        expect((yield* a.members(group.id)).map((x) => x.inboxId).sort()).toEqual(
          [a.inboxId, b.inboxId, c.inboxId].sort(),
        )
      }),
  },
  {
    name: "adding an unknown inbox fails",
    run: (m) =>
      Effect.gen(function* () {
        const a = yield* connectNew(m, "a")
        const stranger = generateIdentity().inboxId
        const group = yield* a.createGroup([])
        expect(yield* failure(a.addMembers(group.id, [stranger]))).toBe("unknown-inbox")
        expect(yield* failure(a.createGroup([stranger]))).toBe("unknown-inbox")
        expect(yield* failure(a.dm(stranger))).toBe("unknown-inbox")
      }),
  },
  {
    name: "a late joiner sees only messages sent after it joined",
    run: (m) =>
      Effect.gen(function* () {
        const [a, b, c] = [yield* connectNew(m, "a"), yield* connectNew(m, "b"), yield* connectNew(m, "c")]
        const group = yield* a.createGroup([b.inboxId])
        yield* a.sendText(group.id, "before")
        yield* a.addMembers(group.id, [c.inboxId])
        yield* a.sendText(group.id, "after")
        yield* eventually(syncedMessages(b, group.id), (ms) => expect(texts(ms)).toEqual(["before", "after"]))
        const seenByC = yield* eventually(syncedMessages(c, group.id), (ms) => expect(texts(ms)).toEqual(["after"]))
        expect(seenByC.every((x) => x.conversationId === group.id)).toBe(true)
      }),
  },
  {
    name: "membership changes arrive as membership_change messages naming who was added and removed",
    run: (m) =>
      Effect.gen(function* () {
        const [a, b, c] = [yield* connectNew(m, "a"), yield* connectNew(m, "b"), yield* connectNew(m, "c")]
        const group = yield* a.createGroup([b.inboxId])
        yield* a.addMembers(group.id, [c.inboxId])
        yield* a.removeMembers(group.id, [c.inboxId])
        const changes = yield* eventually(syncedMessages(b, group.id), (ms) =>
          expect(
            ms.filter(
              (x) =>
                x.kind === "membership_change" &&
                ((x.membership?.added.length ?? 0) > 0 || (x.membership?.removed.length ?? 0) > 0),
            ).length,
          ).toBeGreaterThanOrEqual(2),
        )
        const memberships = changes.filter((x) => x.kind === "membership_change").map((x) => x.membership)
        expect(memberships).toContainEqual({ added: [c.inboxId], removed: [], by: a.inboxId })
        expect(memberships).toContainEqual({ added: [], removed: [c.inboxId], by: a.inboxId })
      }),
  },
  {
    name: "a removed member stops receiving and cannot send",
    run: (m) =>
      Effect.gen(function* () {
        const [a, b] = [yield* connectNew(m, "a"), yield* connectNew(m, "b")]
        const group = yield* a.createGroup([b.inboxId])
        yield* a.sendText(group.id, "while member")
        yield* eventually(syncedMessages(b, group.id), (ms) => expect(texts(ms)).toEqual(["while member"]))
        yield* a.removeMembers(group.id, [b.inboxId])
        yield* a.sendText(group.id, "after removal")
        expect((yield* a.members(group.id)).map((x) => x.inboxId)).toEqual([a.inboxId])
        yield* eventually(syncedMessages(a, group.id), (ms) =>
          expect(texts(ms)).toEqual(["while member", "after removal"]),
        )
        yield* b.sync
        expect(texts(yield* b.messages(group.id))).toEqual(["while member"])
        expect(yield* failure(b.sendText(group.id, "still here?"))).toMatch(/not-member|forbidden/)
      }),
  },
  {
    name: "a member who leaves is gone for the others, hears nothing more and cannot send; a sole super admin hands over first",
    run: (m) =>
      Effect.gen(function* () {
        const [a, b, c] = [yield* connectNew(m, "a"), yield* connectNew(m, "b"), yield* connectNew(m, "c")]
        const group = yield* a.createGroup([b.inboxId, c.inboxId])
        yield* eventually(Effect.andThen(b.sync, b.conversations), (cs) =>
          expect(cs.map((x) => x.id)).toContain(group.id),
        )
        yield* b.leave(group.id)
        // The others see b removed (on XMTP once an admin's client commits b's leave request on sync).
        yield* eventually(Effect.andThen(a.sync, a.members(group.id)), (ms) =>
          expect(ms.map((x) => x.inboxId).sort()).toEqual([a.inboxId, c.inboxId].sort()),
        )
        yield* eventually(syncedMessages(c, group.id), (ms) =>
          expect(
            ms.filter((x) => x.kind === "membership_change").flatMap((x) => x.membership?.removed ?? []),
          ).toContain(b.inboxId),
        )
        expect(yield* b.consent(group.id)).toBe("denied")
        expect(yield* failure(b.sendText(group.id, "still here?"))).toMatch(/not-member|forbidden/)
        yield* a.sendText(group.id, "after b left")
        yield* eventually(syncedMessages(c, group.id), (ms) => expect(texts(ms)).toEqual(["after b left"]))
        yield* b.sync
        expect(texts(yield* b.messages(group.id))).toEqual([])
        // a is the only super admin: leaving makes c (the one left) super admin; c, now alone, cannot leave.
        yield* a.leave(group.id)
        yield* eventually(Effect.andThen(c.sync, c.members(group.id)), (ms) =>
          expect(ms.map((x) => [x.inboxId, x.role])).toEqual([[c.inboxId, "super_admin"]]),
        )
        expect(yield* failure(c.leave(group.id))).toBe("invalid")
        yield* b.sync
        expect(yield* failure(b.leave(group.id))).toBe("not-member")
        const dm = yield* a.dm(c.inboxId)
        expect(yield* failure(a.leave(dm.id))).toBe("invalid")
      }),
  },
  {
    name: "consent is per inbox and conversation; denied conversations are not streamed",
    run: (m) =>
      Effect.gen(function* () {
        const [a, b] = [yield* connectNew(m, "a"), yield* connectNew(m, "b")]
        const denied = yield* a.createGroup([b.inboxId], { name: "spam" })
        const allowed = yield* a.createGroup([b.inboxId], { name: "friends" })
        yield* eventually(Effect.andThen(b.sync, b.conversations), (cs) =>
          expect(cs.map((x) => x.id)).toEqual(expect.arrayContaining([denied.id, allowed.id])),
        )
        expect(yield* a.consent(denied.id)).toBe("allowed")
        expect(yield* b.consent(denied.id)).toBe("unknown")
        yield* b.setConsent(denied.id, "denied")
        yield* b.setConsent(allowed.id, "allowed")
        expect(yield* b.consent(denied.id)).toBe("denied")
        expect(yield* b.consent(allowed.id)).toBe("allowed")
        expect(yield* a.consent(denied.id)).toBe("allowed")
        const since = Date.now() - 1
        const received = yield* collect(b, 1, since)
        yield* a.sendText(denied.id, "buy now")
        yield* a.sendText(allowed.id, "hello friend")
        const got = yield* Fiber.join(received)
        expect(got.map((x) => [x.conversationId, x.text])).toEqual([[allowed.id, "hello friend"]])
      }),
  },
  {
    name: "DMs are find-or-create and idempotent from both sides",
    run: (m) =>
      Effect.gen(function* () {
        const [a, b] = [yield* connectNew(m, "a"), yield* connectNew(m, "b")]
        const first = yield* a.dm(b.inboxId)
        const again = yield* a.dm(b.inboxId)
        expect(again.id).toBe(first.id)
        expect(first).toMatchObject({ kind: "dm", peerInboxId: b.inboxId })
        yield* a.sendText(first.id, "join request")
        yield* b.sync
        const fromB = yield* b.dm(a.inboxId)
        expect(fromB.id).toBe(first.id)
        expect(fromB.peerInboxId).toBe(a.inboxId)
        yield* eventually(syncedMessages(b, first.id), (ms) => expect(texts(ms)).toEqual(["join request"]))
        expect((yield* a.conversations).filter((x) => x.kind === "dm").map((x) => x.id)).toEqual([first.id])
      }),
  },
  {
    name: "custom content types pass through as raw bytes",
    run: (m) =>
      Effect.gen(function* () {
        const [a, b] = [yield* connectNew(m, "a"), yield* connectNew(m, "b")]
        const group = yield* a.createGroup([b.inboxId])
        const contentType = { authorityId: "convos.org", typeId: "profile_update", versionMajor: 1, versionMinor: 0 }
        const bytes = new Uint8Array([0, 1, 2, 255, 0, 10, 13, 128, 64, 0])
        const id = yield* a.send(group.id, {
          contentType,
          content: bytes,
          fallback: "profile updated",
          shouldPush: false,
        })
        const ms = yield* eventually(syncedMessages(b, group.id), (ms) =>
          expect(ms.some((x) => x.id === id)).toBe(true),
        )
        const got = ms.find((x) => x.id === id)!
        expect(got.contentType).toEqual(contentType)
        expect([...got.content]).toEqual([...bytes])
        expect(got.text).toBeNull()
        expect(got.senderInboxId).toBe(a.inboxId)
      }),
  },
  {
    name: "the stream includes own messages, delivers each id once and resumes after a restart",
    run: (m) =>
      Effect.gen(function* () {
        const [a, b] = [yield* connectNew(m, "a"), yield* connectNew(m, "b")]
        const group = yield* a.createGroup([b.inboxId])
        yield* eventually(Effect.andThen(b.sync, b.conversations), (cs) =>
          expect(cs.map((x) => x.id)).toContain(group.id),
        )
        const since = Date.now() - 1
        const live = yield* collect(a, 4, since)
        yield* a.sendText(group.id, "1 from a")
        yield* b.sendText(group.id, "2 from b")
        yield* a.sendText(group.id, "3 from a")
        yield* b.sendText(group.id, "4 from b")
        const first = yield* Fiber.join(live)
        expect(first.map((x) => x.text)).toEqual(["1 from a", "2 from b", "3 from a", "4 from b"])
        expect(new Set(first.map((x) => x.id)).size).toBe(4)
        // "Restart": a new stream resuming after the second message replays 3 and 4, then continues live with 5.
        const resumed = yield* collect(a, 3, first[1]!.sentAt.getTime())
        yield* a.sendText(group.id, "5 from a")
        const second = yield* Fiber.join(resumed)
        expect(second.map((x) => x.text)).toEqual(["3 from a", "4 from b", "5 from a"])
        expect(second.map((x) => x.id).slice(0, 2)).toEqual(first.slice(2).map((x) => x.id))
      }),
  },
]
