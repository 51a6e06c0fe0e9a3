import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Pool } from "../Pool.ts"
import { MemoryCloud, PoolTest } from "../testing.ts"

// Pool.conversations / Pool.leave: the owner's running agent leaves one of its conversations (the runtime's
// POST /convos/leave; the in-memory runtime here, the devnet one in manager-bot/test/leave.test.ts). Refused by the Pool
// itself for anyone else, like the other owner operations, and recorded as a `leave` event.

type Failure = { readonly _tag: string; readonly message: string; readonly field?: string }

layer(PoolTest(), { timeout: "120 seconds", excludeTestServices: true })("Pool.leave", (it) => {
  it.effect("the owner's agent leaves a conversation (recorded); an intruder is refused and changes nothing", () =>
    Effect.gen(function* () {
      const pool = yield* Pool
      for (const i of yield* pool.list()) yield* pool.kill(i.id)
      yield* pool.replenish(1)
      yield* pool.tick
      const claimed = yield* pool.claim({ key: "leave-1", claimedBy: "inbox-owner", agentName: "Ada" })
      const id = claimed.instance.id
      const joined = yield* pool.join(id, "inbox-owner", "https://dev.convos.org/v2?i=friends-group")
      const ids = (yield* pool.conversations(id, "inbox-owner")).map((c) => c.id)
      assert.deepStrictEqual(ids, [claimed.conversationId, joined.conversationId])

      for (const attempt of [
        pool.leave(id, "inbox-intruder", joined.conversationId!),
        pool.conversations(id, "inbox-intruder"),
      ]) {
        const refused = (yield* Effect.flip(attempt as Effect.Effect<unknown, Failure>)) as Failure
        assert.strictEqual(refused._tag, "InstanceNotFound")
        assert.notInclude(refused.message, "inbox-owner", "the refusal does not name the owner")
      }
      assert.deepStrictEqual(
        (yield* pool.conversations(id, "inbox-owner")).map((c) => c.id),
        ids,
        "still in both",
      )

      assert.strictEqual(yield* pool.leave(id, "inbox-owner", joined.conversationId!), joined.conversationId)
      assert.deepStrictEqual(
        (yield* pool.conversations(id, "inbox-owner")).map((c) => c.id),
        [claimed.conversationId],
      )
      const [event] = yield* pool.recentEvents({ limit: 1, instanceId: id })
      assert.deepStrictEqual([event?.kind, event?.detail], ["leave", joined.conversationId])

      const unknown = (yield* Effect.flip(pool.leave(id, "inbox-owner", "conv-nowhere"))) as Failure
      assert.deepStrictEqual([unknown._tag, unknown.field], ["InvalidRequest", "conversation"])
      assert.include(unknown.message, "It is not in conversation conv-nowhere")

      // Leaving its own conversation takes that conversation and its invite off the row.
      yield* pool.leave(id, "inbox-owner", claimed.conversationId)
      const after = yield* pool.get(id)
      assert.deepStrictEqual([after.status, after.conversationId, after.inviteUrl], ["claimed", null, null])
      const cloud = yield* MemoryCloud
      assert.deepStrictEqual(
        [...cloud.instances.values()].filter((i) => i.instanceId === id).map((i) => i.conversationId),
        [null],
      )
    }),
  )
})
