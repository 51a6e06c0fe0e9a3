import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Layer, Stream } from "effect"
import { SqlClient } from "effect/sql"
import { poolConfigLayer, type PoolSettings } from "../../config.ts"
import { TestDatabase } from "../../db/testing.ts"
import { AgentResourcesNone } from "../../providers/AgentResources.ts"
import { Pool, type PoolEvent } from "../Pool.ts"
import { makePool } from "../PoolLive.ts"
import { ProviderCircuitLive } from "../ProviderCircuit.ts"
import { Replica } from "../replica.ts"
import { RuntimeClient } from "../RuntimeClient.ts"
import { makeRuntimeClient } from "../RuntimeClientLive.ts"
import { type LoopbackCloud, loopbackCompute, makeShiftedClock, startLoopbackCloud } from "./loopback-cloud.ts"

// Crash-loop protection through the real parts: PoolLive with its tick and SQL (PGlite or TEST_DATABASE_URL), the real
// runtime HTTP client, and a compute provider on loopback HTTP that counts every request and allocation. The pool's
// Clock is the wall clock shifted forward by one tick interval after each tick (makeShiftedClock: sleeps and timeouts
// stay real, so database sessions and HTTP calls are unaffected). Defaults here are the production ones for the circuit (30 s, doubling) and the status pace (1 min).

const settings: Partial<PoolSettings> = {
  minIdle: 2,
  maxTotal: 4,
  tickInterval: Duration.seconds(10),
  deathGrace: Duration.seconds(30),
  startTimeout: Duration.minutes(2),
  createBackoff: Duration.seconds(30),
  createBackoffMax: Duration.minutes(30),
  providerStatusInterval: Duration.minutes(1),
  providerCallsPerDay: 8_000,
}

const poolOn = (cloud: LoopbackCloud, overrides: Partial<PoolSettings>) =>
  Layer.effect(Pool, makePool).pipe(
    Layer.provideMerge(Layer.merge(ProviderCircuitLive, Replica.layer)),
    Layer.provideMerge(loopbackCompute(cloud)),
    Layer.provideMerge(
      Layer.succeed(
        RuntimeClient,
        makeRuntimeClient({ healthTimeout: Duration.seconds(5), provisionTimeout: Duration.seconds(5) }),
      ),
    ),
    Layer.provideMerge(AgentResourcesNone),
    Layer.provideMerge(poolConfigLayer({ ...settings, ...overrides })),
  )

/** Runs `body` against a fresh pool on a fresh loopback cloud, with every pool event recorded. */
const withPool = <A, E>(
  overrides: Partial<PoolSettings>,
  body: (env: {
    pool: Pool["Service"]
    cloud: LoopbackCloud
    events: Array<PoolEvent>
    tick: Effect.Effect<void, unknown>
    sql: SqlClient.SqlClient
  }) => Effect.Effect<A, E, Pool | SqlClient.SqlClient>,
) =>
  Effect.gen(function* () {
    const cloud = yield* Effect.acquireRelease(Effect.promise(startLoopbackCloud), (c) => Effect.promise(c.close))
    const time = yield* makeShiftedClock
    return yield* Effect.gen(function* () {
      const pool = yield* Pool
      const sql = yield* SqlClient.SqlClient
      const events: Array<PoolEvent> = []
      const listener = yield* Stream.runForEach(pool.events, (e) => Effect.sync(() => void events.push(e))).pipe(
        Effect.forkChild,
      )
      yield* Effect.sleep("20 millis") // the listener subscribes
      const interval = overrides.tickInterval ?? settings.tickInterval!
      const tick = pool.tick.pipe(Effect.andThen(time.advance(interval)))
      const result = yield* body({ pool, cloud, events, tick, sql })
      yield* Fiber.interrupt(listener)
      return result
    }).pipe(
      Effect.provide(poolOn(cloud, overrides)),
      // The pool and the test see the shifted clock; the database (built first, below) keeps the real one.
      Effect.provideService(Clock.Clock, time.clock),
      Effect.provide(TestDatabase),
    )
  }).pipe(Effect.scoped)

const circuitEvents = (events: ReadonlyArray<PoolEvent>) =>
  events.flatMap((e) =>
    e._tag === "ProviderCircuitOpened" || e._tag === "ProviderCircuitClosed" ? [[e._tag, e.fault] as const] : [],
  )

describe("crash-loop protection", () => {
  it.live(
    "a provider failing every call for 10 ticks gets ≤ 3 create attempts and keeps nothing allocated; one alert when creates pause, one when they resume",
    () =>
      withPool({}, ({ pool, cloud, events, tick }) =>
        Effect.gen(function* () {
          cloud.refuseAll(503)
          for (let t = 0; t < 10; t++) yield* tick
          assert.isAtMost(cloud.counts.createRequests, 3, "creates reached the provider at most 3 times in 10 ticks")
          assert.strictEqual(cloud.counts.createRequests, 3, "0 s, then trials after 30 s and 60 s more")
          assert.strictEqual(cloud.instances.size, 0, "nothing allocated at the provider")
          yield* tick // the last failed create's dead row is destroyed on the next tick
          assert.strictEqual(
            (yield* pool.counts).total,
            0,
            "failed creates leave no rows behind (their dead rows are destroyed)",
          )
          assert.strictEqual(cloud.counts.createRequests, 3)
          // The provider comes back: the next trial instance gets ready, creates resume and fill the pool.
          cloud.refuseAll(null)
          for (let t = 0; t < 40 && (yield* pool.counts).idle < 2; t++) yield* tick
          assert.strictEqual((yield* pool.counts).idle, 2)
          assert.deepStrictEqual(circuitEvents(events), [
            ["ProviderCircuitOpened", "unavailable"],
            ["ProviderCircuitClosed", "unavailable"],
          ])
          assert.strictEqual(cloud.instances.size, 2)
        }),
      ),
    180_000,
  )

  it.live(
    "'not authorized' from the provider changes no instance's state, creates and destroys nothing; one alert, and one when it is fixed",
    () =>
      withPool({ minIdle: 3, maxTotal: 6 }, ({ pool, cloud, events, tick, sql }) =>
        Effect.gen(function* () {
          for (let t = 0; t < 20 && (yield* pool.counts).idle < 3; t++) yield* tick
          const [a, b] = yield* pool.list({ status: ["idle"] })
          // A claimed agent and a starting instance the provider no longer lists, and two idle ones whose runtimes fell
          // silent: with a working key all four would be marked; with a refused key none may be.
          yield* sql`
          INSERT INTO instances (id, status, provider, provider_ref, url, token_hash, claimed_by, agent_name, created_at)
          VALUES ('claimed-1', 'claimed', 'railway', 'lb-unlisted-1', ${`${cloud.url()}/rt/lb-unlisted-1`}, 'x', 'person', 'Ada', now() - interval '1 hour'),
                 ('starting-1', 'starting', 'railway', 'lb-unlisted-2', ${`${cloud.url()}/rt/lb-unlisted-2`}, 'x', NULL, NULL, now() - interval '1 hour')`
          cloud.instances.get(a!.providerRef!)!.state = "failed"
          cloud.instances.get(b!.providerRef!)!.state = "failed"
          const snapshot = sql<{
            id: string
            status: string
            lastError: string | null
          }>`SELECT id, status, last_error FROM instances ORDER BY id`
          const eventCount = sql<{ n: number }>`SELECT count(*)::int AS n FROM events`.pipe(Effect.map((r) => r[0]!.n))
          const before = {
            rows: yield* snapshot,
            events: yield* eventCount,
            creates: cloud.counts.createRequests,
            deletes: cloud.counts.deleteRequests,
          }
          cloud.refuseAll(401)
          for (let t = 0; t < 30; t++) yield* tick // 5 minutes: far past the grace period and the start timeout
          assert.deepStrictEqual(yield* snapshot, before.rows, "no instance changed state")
          assert.strictEqual(yield* eventCount, before.events, "no transition was recorded")
          assert.strictEqual(cloud.counts.createRequests, before.creates, "no create was sent")
          assert.strictEqual(cloud.counts.deleteRequests, before.deletes, "no destroy was sent")
          assert.isAtLeast(cloud.counts.statusRequests, 2, "the provider was probed, at the slower status pace")
          assert.deepStrictEqual(
            circuitEvents(events),
            [["ProviderCircuitOpened", "unauthorized"]],
            "one alert for the configuration fault",
          )
          // The key works again: the next probe ends the fault and the tick goes back to work in the same run: the
          // provider's "gone" now counts, so the unlisted starting instance dies (a death before ready, which pauses
          // creates: a new, ordinary opening), and later the claimed one crashes.
          cloud.refuseAll(null)
          for (let t = 0; t < 40 && circuitEvents(events).length < 2; t++) yield* tick
          assert.deepStrictEqual(circuitEvents(events), [
            ["ProviderCircuitOpened", "unauthorized"],
            ["ProviderCircuitClosed", "unauthorized"],
            ["ProviderCircuitOpened", "unavailable"],
          ])
          // The claimed one's grace period starts only now (nothing was marked meanwhile, not even its first sighting).
          for (let t = 0; t < 20 && (yield* pool.get("claimed-1")).status === "claimed"; t++) yield* tick
          assert.strictEqual((yield* pool.get("claimed-1")).status, "crashed")
        }),
      ),
    180_000,
  )

  it.live(
    "dead instances are destroyed, with retries, and count toward POOL_MAX_TOTAL until they are gone",
    () =>
      withPool({ minIdle: 2, maxTotal: 3 }, ({ pool, cloud, tick }) =>
        Effect.gen(function* () {
          for (let t = 0; t < 20 && (yield* pool.counts).idle < 2; t++) yield* tick
          const idle = yield* pool.list({ status: ["idle"] })
          assert.lengthOf(idle, 2)
          // Both crash, and the provider refuses deletes for a while.
          cloud.refuseDeletes(503)
          for (const i of idle) cloud.instances.get(i.providerRef!)!.state = "failed"
          const creates = cloud.counts.createRequests
          let maxRows = 0
          for (let t = 0; t < 30; t++) {
            yield* tick
            const c = yield* pool.counts
            maxRows = Math.max(maxRows, c.total)
            assert.isAtMost(c.total, 3, `tick ${t}: rows (dead and draining included) within POOL_MAX_TOTAL`)
            assert.isAtMost(cloud.instances.size, 3, `tick ${t}: allocated at the provider within POOL_MAX_TOTAL`)
          }
          assert.strictEqual(
            (yield* pool.counts).draining,
            2,
            "the two dead ones wait, still counted, for their destroy",
          )
          assert.strictEqual(cloud.counts.createRequests - creates, 1, "only one replacement fits beside them")
          assert.isAtLeast(cloud.counts.deleteRequests, 4, "each destroy was tried again")
          assert.isAtMost(cloud.counts.deleteRequests, 10, "with growing pauses, not every tick")
          cloud.refuseDeletes(null)
          for (let t = 0; t < 200 && (yield* pool.counts).draining > 0; t++) yield* tick
          for (const i of idle)
            assert.isFalse(cloud.instances.has(i.providerRef!), `${i.providerRef} destroyed at the provider`)
          for (let t = 0; t < 20 && (yield* pool.counts).idle < 2; t++) yield* tick
          const after = yield* pool.counts
          assert.deepStrictEqual([after.idle, after.dead, after.draining], [2, 0, 0])
          assert.strictEqual(cloud.instances.size, 2)
        }),
      ),
    180_000,
  )

  it.live(
    "an instance not ready within POOL_START_TIMEOUT is destroyed and replaced through the circuit: one at a time, pauses growing",
    () =>
      withPool({ minIdle: 1, maxTotal: 3 }, ({ pool, cloud, events, tick }) =>
        Effect.gen(function* () {
          cloud.setReady(false)
          for (let t = 0; t < 60; t++) yield* tick // 10 minutes, start timeout 2 minutes
          assert.strictEqual(cloud.peakAllocated(), 1, "never more than the one instance being tried")
          assert.strictEqual(
            cloud.counts.deleted,
            cloud.counts.createRequests - 1,
            "every instance that timed out was destroyed",
          )
          // t=0 create; 2 min: timeout, destroyed, pause 30 s; trial; 2 min; pause 60 s; trial; 2 min; pause 120 s …
          assert.strictEqual(cloud.counts.createRequests, 4)
          assert.deepStrictEqual(circuitEvents(events), [["ProviderCircuitOpened", "unavailable"]])
          cloud.setReady(true)
          for (let t = 0; t < 40 && (yield* pool.counts).idle < 1; t++) yield* tick
          assert.strictEqual((yield* pool.counts).idle, 1, "the replacement is ready")
          assert.deepStrictEqual(circuitEvents(events), [
            ["ProviderCircuitOpened", "unavailable"],
            ["ProviderCircuitClosed", "unavailable"],
          ])
          const dead = events.filter((e) => e._tag === "InstanceDead")
          assert.strictEqual(dead.length, 3)
          for (const e of dead) assert.match((e as { reason: string }).reason, /^not ready after 2m/)
        }),
      ),
    180_000,
  )
})
