import { randomUUID } from "node:crypto"
import { PgClient, PgConnection } from "@effect/sql-pg"
import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { hasPostgres, needsPostgres } from "../../db/testing.ts"
import { Pool } from "../Pool.ts"
import { replicaLockParams, replicaLockSql } from "../replica.ts"
import { MemoryCloud, PoolTest, startPool } from "../testing.ts"

// Several pool replicas on one database. A replica that starts must leave the claims another live replica is setting
// up alone, and resolve the claims of a replica that is gone. Provisioning takes 1.5 s here, so claims stay in flight.

const until = <E, R>(check: Effect.Effect<boolean, E, R>, what: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 100; i++) {
      if (yield* check) return
      yield* Effect.sleep(50)
    }
    assert.fail(`timed out waiting for ${what}`)
  })

const idleInstances = (n: number) =>
  Effect.gen(function* () {
    const pool = yield* Pool
    for (const i of yield* pool.list()) yield* pool.kill(i.id)
    yield* pool.replenish(n)
    yield* pool.tick
    return yield* pool.list({ status: ["idle"] })
  })

layer(PoolTest({ cloud: { provisionDelay: "1500 millis" } }), { timeout: "120 seconds", excludeTestServices: true })(
  "pool replicas",
  (it) => {
    it.effect(
      "a second replica starting while the first is mid-provision leaves the claim alone: it completes as claimed",
      () =>
        Effect.gen(function* () {
          const pool = yield* Pool
          yield* idleInstances(1)
          const inFlight = yield* Effect.forkChild(
            pool.claim({ key: "in-flight", claimedBy: "alice", agentName: "Ada" }),
          )
          yield* until(pool.counts.pipe(Effect.map((c) => c.claiming === 1)), "the claim to be in flight")
          yield* Effect.sleep(100) // the claiming row is now older than the second replica's start
          const second = yield* startPool()
          const report = yield* second.pool.tick
          assert.isTrue(report.ran)
          assert.strictEqual(report.markedCrashed, 0, "the other replica's in-flight claim is not crashed")
          const result = yield* Fiber.join(inFlight)
          assert.strictEqual(result.instance.status, "claimed")
          assert.strictEqual((yield* pool.get(result.instance.id)).status, "claimed")
          assert.match(result.inviteUrl ?? "", /^https:\/\//)
          yield* second.close
        }),
    )

    it.effect("claims of a replica that is gone are resolved on the next tick, even when fresh", () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const cloud = yield* MemoryCloud
        const sql = yield* SqlClient.SqlClient
        const [done, cut] = yield* idleInstances(2)
        // done: the runtime finished before its replica died; cut: the replica died before provisioning finished.
        const mem = cloud.instances.get(done!.providerRef!)!
        mem.conversationId = "conv-done"
        mem.inviteUrl = "https://dev.convos.org/v2?i=done"
        const deadReplica = randomUUID()
        yield* sql`UPDATE instances SET status = 'claiming', claimed_by = 'bob', claim_owner = ${deadReplica}, updated_at = now() WHERE id IN (${done!.id}, ${cut!.id})`
        const report = yield* pool.tick // not this pool's first tick, and the claims are seconds old: only the owner counts
        assert.strictEqual(report.markedCrashed, 1)
        const a = yield* pool.get(done!.id)
        assert.strictEqual(a.status, "claimed")
        assert.strictEqual(a.inviteUrl, "https://dev.convos.org/v2?i=done")
        const b = yield* pool.get(cut!.id)
        assert.strictEqual(b.status, "crashed")
        assert.include(b.lastError ?? "", "interrupted")
      }),
    )

    it.effect(
      "with POOL_REPLICA_GONE_AFTER, a free lock must stay free that long before the owner counts as gone",
      () =>
        Effect.gen(function* () {
          yield* idleInstances(1)
          const sql = yield* SqlClient.SqlClient
          const { pool, close } = yield* startPool({ settings: { replicaGoneAfter: Duration.millis(400) } })
          const [cut] = yield* pool.list({ status: ["idle"] })
          const blipped = randomUUID()
          yield* sql`UPDATE instances SET status = 'claiming', claimed_by = 'bob', claim_owner = ${blipped}, updated_at = now() WHERE id = ${cut!.id}`
          assert.strictEqual((yield* pool.tick).markedCrashed, 0, "first sighting of a free lock: maybe a session blip")
          assert.strictEqual((yield* pool.get(cut!.id)).status, "claiming")
          yield* Effect.sleep(450)
          assert.strictEqual((yield* pool.tick).markedCrashed, 1, "still free after the confirmation time: gone")
          assert.strictEqual((yield* pool.get(cut!.id)).status, "crashed")
          yield* close
        }),
    )

    it.effect(
      "Pool.replica.gone (the manager bot's takeover) waits for POOL_REPLICA_GONE_AFTER, as the tick does",
      () =>
        Effect.gen(function* () {
          const { pool, close } = yield* startPool({ settings: { replicaGoneAfter: Duration.millis(400) } })
          const other = randomUUID() // a replica whose lock nobody holds: free, but maybe only a session blip
          assert.isFalse((yield* pool.replica.gone([other])).has(other), "first sighting of a free lock: not gone yet")
          yield* Effect.sleep(450)
          assert.isTrue((yield* pool.replica.gone([other])).has(other), "still free after the confirmation time: gone")
          yield* close
        }),
    )

    it.effect("claims of this pool's own in-flight provisioning are never resolved by its own tick", () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        yield* idleInstances(1)
        const inFlight = yield* Effect.forkChild(pool.claim({ key: "own-in-flight", claimedBy: "carol" }))
        yield* until(pool.counts.pipe(Effect.map((c) => c.claiming === 1)), "the claim to be in flight")
        const report = yield* pool.tick
        assert.strictEqual(report.markedCrashed, 0)
        assert.strictEqual((yield* Fiber.join(inFlight)).instance.status, "claimed")
      }),
    )

    it.effect.skipIf(!hasPostgres())(
      needsPostgres(
        "a replica in another process is alive while its session holds the lock, gone once that session ends",
      ),
      () =>
        Effect.gen(function* () {
          const pool = yield* Pool
          const sql = yield* SqlClient.SqlClient
          const pg = yield* PgClient.PgClient
          const [row] = yield* idleInstances(1)
          const other = randomUUID()
          const otherProcess = yield* Scope.make()
          const session = yield* PgConnection.make(pg.config).pipe(Scope.provide(otherProcess))
          assert.deepStrictEqual(yield* session.queryValues(replicaLockSql, replicaLockParams(other)), [[true]])
          // Older than the new replica's start (the old rule crashed such claims on a first tick), not yet stuck.
          yield* sql`UPDATE instances SET status = 'claiming', claimed_by = 'dan', claim_owner = ${other}, updated_at = now() - interval '5 seconds' WHERE id = ${row!.id}`
          const restarted = yield* startPool()
          assert.strictEqual((yield* restarted.pool.tick).markedCrashed, 0)
          assert.strictEqual((yield* pool.get(row!.id)).status, "claiming", "its owner still holds its lock")
          yield* Scope.close(otherProcess, Exit.void)
          yield* until(
            restarted.pool.tick.pipe(
              Effect.andThen(pool.get(row!.id)),
              Effect.map((i) => i.status === "crashed"),
            ),
            "the claim of the ended session to be resolved",
          )
          yield* restarted.close
        }),
    )

    it.effect("a replica that shut down is gone: a claim it left in claiming is resolved by the others", () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const sql = yield* SqlClient.SqlClient
        yield* idleInstances(2)
        const stopped = yield* startPool()
        const first = yield* stopped.pool.claim({ key: "stopped-replica", claimedBy: "erin" })
        const [row] = yield* sql<{
          claimOwner: string | null
        }>`SELECT claim_owner FROM instances WHERE id = ${first.instance.id}`
        assert.isString(row?.claimOwner, "the claim records the replica that made it")
        const [left] = yield* pool.list({ status: ["idle"] })
        yield* sql`UPDATE instances SET status = 'claiming', claimed_by = 'erin', claim_owner = ${row!.claimOwner}, updated_at = now() WHERE id = ${left!.id}`
        assert.strictEqual((yield* pool.tick).markedCrashed, 0, "alive: left alone")
        yield* stopped.close
        // In this process it is gone at once; on Postgres its lock goes when the server has ended its session.
        yield* until(
          pool.tick.pipe(
            Effect.andThen(pool.get(left!.id)),
            Effect.map((i) => i.status === "crashed"),
          ),
          "the stopped replica's claim to be resolved",
        )
      }),
    )
  },
)
