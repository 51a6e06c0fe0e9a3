import { Clock, Effect, Fiber, Stream } from "effect"
import { SqlClient } from "effect/sql"
import { Pool, type PoolEvent, type TickReport } from "../Pool.ts"
import { makeInstanceRepo } from "../repo.ts"
import { MemoryCloud, startPool } from "../testing.ts"
import { makeShiftedClock } from "./loopback-cloud.ts"

// What the tick-phase tests share (tick-phases.test.ts, tick-provider.test.ts): a report's counts, the events a pool
// publishes, an instance's row, and a pool of its own on a clock the test moves on.

export type Counts = Omit<TickReport, "durationMs">
export const counts = (r: TickReport): Counts => {
  const { durationMs: _, ...rest } = r
  return rest
}
/** Every count of a tick report at zero, written out here (not taken from the code under test). */
export const zeroCounts = {
  promoted: 0,
  markedDead: 0,
  markedCrashed: 0,
  created: 0,
  destroyed: 0,
  providerCalls: 0,
  healthChecks: 0,
} as const
export const ran = (c: Partial<Counts>): Counts => ({ ran: true, ...zeroCounts, ...c })

export const drainAll = Effect.gen(function* () {
  const pool = yield* Pool
  for (const i of yield* pool.list()) yield* pool.kill(i.id)
})

/** An empty pool, then n idle instances (with the pool, the cloud and the SQL client the tests use). */
export const idleInstances = (n: number) =>
  Effect.gen(function* () {
    yield* drainAll
    const pool = yield* Pool
    yield* pool.replenish(n)
    yield* pool.tick
    const idle = yield* pool.list({ status: ["idle"] })
    return { pool, cloud: yield* MemoryCloud, sql: yield* SqlClient.SqlClient, idle }
  })

/** Every event `pool` publishes from now on, until the test's scope ends. */
export const recordEvents = (pool: Pool["Service"]) =>
  Effect.gen(function* () {
    const events: Array<PoolEvent> = []
    const fiber = yield* Stream.runForEach(pool.events, (e) => Effect.sync(() => void events.push(e))).pipe(
      Effect.forkChild,
    )
    yield* Effect.sleep("20 millis") // the listener subscribes
    return { events, stop: Fiber.interrupt(fiber) }
  })

export const tagged = <T extends PoolEvent["_tag"]>(events: ReadonlyArray<PoolEvent>, tag: T) =>
  events.filter((e): e is Extract<PoolEvent, { _tag: T }> => e._tag === tag)

export const row = (id: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const [r] = yield* sql<{
      status: string
      url: string | null
      unhealthySince: Date | null
      lastHealthyAt: Date | null
    }>`SELECT status, url, unhealthy_since AS "unhealthySince", last_healthy_at AS "lastHealthyAt" FROM instances WHERE id = ${id}`
    return r
  })

export const deathDetail = (id: string, from: string) =>
  Effect.gen(function* () {
    const events = yield* (yield* makeInstanceRepo).events(id)
    return events.filter((e) => e.fromStatus === from && e.toStatus === "dead").map((e) => e.detail)
  })

/** One instance, created and left `starting` (its runtime does not answer at its recorded address yet). */
export const oneStarting = Effect.gen(function* () {
  yield* drainAll
  const pool = yield* Pool
  const [i] = yield* pool.replenish(1)
  return i!
})

/** A pool of its own, on a clock the test moves on (`advance`), with every event recorded. */
export const shiftedPool = (settings: Parameters<typeof startPool>[0]) =>
  Effect.gen(function* () {
    yield* drainAll
    ;(yield* MemoryCloud).failAll(null) // whatever an earlier test (or its failure) left
    const time = yield* makeShiftedClock
    const onClock = <A, E, R>(e: Effect.Effect<A, E, R>) => Effect.provideService(e, Clock.Clock, time.clock)
    const started = yield* onClock(startPool(settings))
    const recorded = yield* recordEvents(started.pool)
    const tick = onClock(started.pool.tick)
    return { ...started, ...recorded, time, onClock, tick }
  })
