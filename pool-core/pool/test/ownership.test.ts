import { assert, layer } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { Pool } from "../Pool.ts"
import { makePool } from "../PoolLive.ts"
import { RuntimeClient } from "../RuntimeClient.ts"
import { MemoryCloud, PoolTest } from "../testing.ts"

// The owner's own operations on an agent that is not (or no longer) running, and what a join answers. Someone else's
// agent is covered in pool.test.ts ("an intruder's release, instruct and join …").

const emptyPool = Effect.gen(function* () {
  const pool = yield* Pool
  for (const i of yield* pool.list()) yield* pool.kill(i.id)
  return pool
})

/** A fresh pool with one agent claimed by inbox-owner. */
const ownedAgent = (key: string) =>
  Effect.gen(function* () {
    const pool = yield* emptyPool
    yield* pool.replenish(1)
    yield* pool.tick
    const claimed = yield* pool.claim({ key, claimedBy: "inbox-owner", agentName: "Ada" })
    return { pool, id: claimed.instance.id, sql: yield* SqlClient.SqlClient }
  })

type Failure = { readonly _tag: string; readonly message: string; readonly field?: string }

layer(PoolTest(), { timeout: "120 seconds", excludeTestServices: true })("ownership: the owner's own agent", (it) => {
  it.effect(
    "a crashed agent of one's own cannot be renamed, instructed or sent to join: InvalidRequest on 'agent'",
    () =>
      Effect.gen(function* () {
        const pool = yield* emptyPool
        yield* pool.replenish(1)
        yield* pool.tick
        ;(yield* MemoryCloud).failProvisions(1, "runtime exploded")
        assert.isTrue(Exit.isFailure(yield* Effect.exit(pool.claim({ key: "own-crashed", claimedBy: "inbox-owner" }))))
        const [crashed] = yield* pool.list({ status: ["crashed"] })
        assert.strictEqual(crashed?.claimedBy, "inbox-owner")
        assert.isNotNull(crashed?.url, "the crashed instance still has its runtime's URL (only its status stops it)")
        const attempts = {
          rename: pool.rename(crashed!.id, "inbox-owner", "Grace"),
          instruct: pool.instruct(crashed!.id, "inbox-owner", "Be brief."),
          join: pool.join(crashed!.id, "inbox-owner", "https://dev.convos.org/v2?i=some-group"),
        }
        for (const [what, attempt] of Object.entries(attempts)) {
          const refused = (yield* Effect.flip(attempt as Effect.Effect<unknown, Failure>)) as Failure
          assert.strictEqual(refused._tag, "InvalidRequest", what)
          assert.strictEqual(refused.field, "agent", what)
          assert.include(refused.message, "crashed, not running", what)
        }
        const after = yield* pool.get(crashed!.id)
        assert.deepStrictEqual([after.status, after.agentName, after.joinUrl], ["crashed", crashed!.agentName, null])
        // Releasing it is what the refusal tells the owner to do, and that works.
        yield* pool.release(crashed!.id, "inbox-owner")
        assert.strictEqual((yield* Effect.flip(pool.get(crashed!.id)))._tag, "InstanceNotFound")
      }),
  )

  it.effect("a claimed agent without a runtime URL is refused the same way, and the row is unchanged", () =>
    Effect.gen(function* () {
      const { pool, id, sql } = yield* ownedAgent("own-no-url")
      yield* sql`UPDATE instances SET url = NULL WHERE id = ${id}`
      const refused = (yield* Effect.flip(pool.rename(id, "inbox-owner", "Grace"))) as Failure
      assert.strictEqual(refused._tag, "InvalidRequest")
      assert.strictEqual(refused.field, "agent")
      assert.strictEqual((yield* pool.get(id)).agentName, "Ada")
    }),
  )

  it.effect("releasing one's own agent that is already being released (draining) answers not found and keeps it", () =>
    Effect.gen(function* () {
      const { pool, id, sql } = yield* ownedAgent("own-draining")
      yield* sql`UPDATE instances SET status = 'draining' WHERE id = ${id}`
      const refused = yield* Effect.flip(pool.release(id, "inbox-owner"))
      assert.strictEqual(refused._tag, "InstanceNotFound")
      assert.strictEqual((yield* pool.get(id)).status, "draining", "not destroyed by this release")
    }),
  )

  it.effect("join answers what the runtime said: pending only when it says so, no conversation id as null", () =>
    Effect.gen(function* () {
      const { id } = yield* ownedAgent("own-join")
      const memory = yield* RuntimeClient
      const answers = [
        { conversationId: "", inviteUrl: null, joined: true },
        { conversationId: "conv-42", inviteUrl: null, joined: false, pending: true },
      ]
      const results: Array<unknown> = []
      for (const answer of answers) {
        const scope = yield* Scope.make()
        const pool = yield* makePool.pipe(
          Effect.provideService(RuntimeClient, RuntimeClient.of({ ...memory, join: () => Effect.succeed(answer) })),
          Scope.provide(scope),
        )
        results.push(yield* pool.join(id, "inbox-owner", "https://dev.convos.org/v2?i=other-group"))
        yield* Scope.close(scope, Exit.void)
      }
      assert.deepStrictEqual(results, [
        { joined: true, pending: false, conversationId: null },
        { joined: false, pending: true, conversationId: "conv-42" },
      ])
    }),
  )
})
