import { PgClient, PgConnection } from "@effect/sql-pg"
import { assert, layer } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { hasPostgres, needsPostgres, testDatabaseKind, testDatabaseOn } from "../../db/testing.ts"
import { Pool } from "../Pool.ts"
import { tickLockSql } from "../replica.ts"
import { MemoryCloud, PoolTest, startPool } from "../testing.ts"
import { STATUS_BATCH } from "../tick.ts"
import { drainAll, zeroCounts } from "./tick-support.ts"

// The reconcile tick: never two at once (one pool, or two pools on one database), starting → dead after
// POOL_START_TIMEOUT, top-up bounded by POOL_MAX_TOTAL, and status asked in batches. Status requests take 300 ms here
// so that concurrent ticks overlap.

layer(PoolTest({ cloud: { statusDelay: "300 millis" } }), { timeout: "120 seconds", excludeTestServices: true })(
  "the tick",
  (it) => {
    it.effect("two concurrent ticks of one pool: exactly one runs, the other reports ran: false", () =>
      Effect.gen(function* () {
        yield* drainAll
        const pool = yield* Pool
        yield* pool.replenish(2)
        const reports = yield* Effect.all([pool.tick, pool.tick], { concurrency: 2 })
        assert.deepStrictEqual(reports.map((r) => r.ran).sort(), [false, true])
        const ran = reports.find((r) => r.ran)!
        assert.strictEqual(ran.promoted, 2)
        assert.strictEqual(ran.healthChecks, 2, "one /pool/health per starting instance")
        assert.deepStrictEqual(
          reports.find((r) => !r.ran),
          { ran: false, ...zeroCounts, durationMs: 0 },
        )
        assert.isTrue((yield* pool.tick).ran, "the lock is free again afterwards")
      }),
    )

    it.effect("two pools on one database tick at once: exactly one runs; afterwards either can", () =>
      Effect.gen(function* () {
        yield* drainAll
        const pool = yield* Pool
        yield* pool.replenish(1)
        const other = yield* startPool()
        for (let round = 0; round < 3; round++) {
          const reports = yield* Effect.all([pool.tick, other.pool.tick], { concurrency: 2 })
          assert.deepStrictEqual(reports.map((r) => r.ran).sort(), [false, true], `round ${round}`)
        }
        assert.isTrue((yield* other.pool.tick).ran)
        assert.isTrue((yield* pool.tick).ran)
        yield* other.close
      }),
    )

    it.effect.skipIf(!hasPostgres())(
      needsPostgres("a replica in another process holding the tick lock: this one does not run"),
      () =>
        Effect.gen(function* () {
          const pool = yield* Pool
          const pg = yield* PgClient.PgClient
          const otherProcess = yield* Scope.make()
          const session = yield* PgConnection.make(pg.config).pipe(Scope.provide(otherProcess))
          assert.deepStrictEqual(yield* session.queryValues(tickLockSql), [[true]])
          assert.isFalse((yield* pool.tick).ran)
          yield* Scope.close(otherProcess, Exit.void)
          // The lock goes once the server has ended that session (a moment after the socket closes).
          let ran = false
          for (let t = 0; t < 50 && !ran; t++) {
            ran = (yield* pool.tick).ran
            if (!ran) yield* Effect.sleep(50)
          }
          assert.isTrue(ran, "the lock went with the session that held it")
        }),
    )

    it.effect(
      "starting → dead once POOL_START_TIMEOUT has passed without becoming ready, then destroyed; younger ones keep waiting",
      () =>
        Effect.gen(function* () {
          yield* drainAll
          const pool = yield* Pool
          const cloud = yield* MemoryCloud
          const sql = yield* SqlClient.SqlClient
          const [old, young] = yield* pool.replenish(2)
          // Both never run (the provider keeps them asleep); `old` was created before the start timeout (5 min here).
          cloud.setState(old!.providerRef!, "sleeping")
          cloud.setState(young!.providerRef!, "sleeping")
          yield* sql`UPDATE instances SET created_at = now() - interval '6 minutes' WHERE id = ${old!.id}`
          const report = yield* pool.tick
          assert.strictEqual(report.markedDead, 1)
          assert.strictEqual(report.destroyed, 1)
          assert.isFalse(cloud.instances.has(old!.providerRef!), "destroyed at the provider")
          assert.strictEqual((yield* Effect.flip(pool.get(old!.id)))._tag, "InstanceNotFound")
          assert.strictEqual((yield* pool.get(young!.id)).status, "starting")
          const [row] = yield* sql<{
            n: number
            detail: string
          }>`SELECT count(*)::int AS n, max(detail) AS detail FROM events WHERE instance_id = ${old!.id} AND from_status = 'starting' AND to_status = 'dead' AND kind = 'tick'`
          assert.strictEqual(row!.n, 1)
          assert.match(row!.detail, /^not ready after 6m/)
        }),
    )

    it.effect("top-up fills idle towards POOL_MIN_IDLE but never above POOL_MAX_TOTAL live instances", () =>
      Effect.gen(function* () {
        yield* drainAll
        const pool = yield* Pool
        yield* pool.replenish(2)
        yield* pool.tick
        yield* pool.claim({ key: "cap-1", claimedBy: "p1" })
        yield* pool.claim({ key: "cap-2", claimedBy: "p2" })
        // min idle 3 wants 3 more, but 2 claimed + 3 would be 5 > max total 4.
        const capped = yield* startPool({ settings: { minIdle: 3, maxTotal: 4 } })
        const live = Effect.map(pool.counts, (c) => c.total)
        const first = yield* capped.pool.tick
        assert.strictEqual(first.created, 2)
        assert.strictEqual(yield* live, 4)
        for (let t = 0; t < 3; t++) {
          const report = yield* capped.pool.tick
          assert.strictEqual(report.created, 0, `tick ${t}: at POOL_MAX_TOTAL, nothing more is created`)
          assert.strictEqual(yield* live, 4)
        }
        assert.strictEqual((yield* pool.counts).idle, 2)
        yield* capped.close
      }),
    )

    it.effect(
      "an idle agent whose runtime stopped answering while the provider says it runs dies after the grace period, saying for how long",
      () =>
        Effect.gen(function* () {
          yield* drainAll
          const pool = yield* Pool
          const sql = yield* SqlClient.SqlClient
          yield* pool.replenish(1)
          yield* pool.tick
          const [idle] = yield* pool.list({ status: ["idle"] })
          // Its runtime no longer answers at the recorded address (the provider still reports it running), and has
          // not for an hour: far past POOL_DEATH_GRACE.
          yield* sql`UPDATE instances SET url = 'memory://nobody-here', unhealthy_since = now() - interval '1 hour'
                WHERE id = ${idle!.id}`
          const report = yield* pool.tick
          const dead = yield* pool.get(idle!.id).pipe(Effect.option)
          assert.strictEqual(report.markedDead, 1)
          if (dead._tag === "Some") assert.notStrictEqual(dead.value.status, "idle")
          const [event] = yield* sql<{ detail: string | null }>`
            SELECT detail FROM events WHERE instance_id = ${idle!.id} AND to_status = 'dead'`
          assert.match(
            event?.detail ?? "",
            /^its runtime has not answered \/pool\/health for 1h( \d+ms)? while memory reports it running/,
          )
        }),
    )

    it.effect(`status is asked in batches of ${STATUS_BATCH}: the provider counts the requests it gets`, () =>
      Effect.gen(function* () {
        yield* drainAll
        const pool = yield* Pool
        const cloud = yield* MemoryCloud
        const sql = yield* SqlClient.SqlClient
        const n = 2 * STATUS_BATCH + 7
        yield* sql`
        INSERT INTO instances (id, status, provider, provider_ref, url, token_hash, created_at, last_healthy_at)
        SELECT 'batch-' || g, 'idle', 'memory', 'mem-batch-' || g, 'memory://batch-' || g, 'x', now(), now() FROM generate_series(1, ${n}) g`
        // None of their runtimes answers /pool/health, so the provider is asked about every one (it says "sleeping").
        for (let g = 1; g <= n; g++) {
          cloud.instances.set(`mem-batch-${g}`, {
            instanceId: `batch-${g}`,
            ref: `mem-batch-${g}`,
            createdAt: 0,
            state: "sleeping",
            provisioned: null,
            conversationId: null,
            inviteUrl: null,
          })
        }
        const before = cloud.stats.statusCalls
        const refsBefore = cloud.stats.statusRefs
        const report = yield* pool.tick
        assert.strictEqual(cloud.stats.statusCalls - before, 3, "ceil(n / batch) requests arrived")
        // The provider refuses a request over its batch size: every ref answered once means the batches split them.
        assert.strictEqual(cloud.stats.statusRefs - refsBefore, n, "each ref asked about once, no request refused")
        assert.strictEqual(report.providerCalls, 3, "the report counts the same calls")
        assert.strictEqual((yield* pool.counts).idle, n, "every answer was used: nothing declared dead")
        const [row] = yield* sql<{
          n: number
        }>`SELECT count(*)::int AS n FROM instances WHERE unhealthy_since IS NOT NULL`
        assert.strictEqual(row!.n, n, "each one's unhealthy clock started")
        yield* sql`DELETE FROM instances WHERE id LIKE 'batch-%'`
        for (let g = 1; g <= n; g++) cloud.instances.delete(`mem-batch-${g}`)
      }),
    )
  },
)

// DB_MAX_CONNECTIONS=1 is allowed: the tick's lock lives on the pool's own session, not on a pooled connection it
// would hold while its queries wait for another one.
layer(PoolTest({ database: testDatabaseOn(testDatabaseKind(), { maxConnections: 1 }) }), {
  timeout: "60 seconds",
  excludeTestServices: true,
})("one database connection", (it) => {
  it.effect("ticks and claims work with a single pooled connection", () =>
    Effect.gen(function* () {
      const pool = yield* Pool
      yield* pool.replenish(2)
      const report = yield* pool.tick.pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(report.promoted, 2)
      const claimed = yield* pool.claim({ key: "one-connection", claimedBy: "p" }).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(claimed.instance.status, "claimed")
    }),
  )
})
