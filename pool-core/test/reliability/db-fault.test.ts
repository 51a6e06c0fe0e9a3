import { assert, describe, layer } from "@effect/vitest"
import { Cause, Duration, Effect, Layer, Logger } from "effect"
import { SqlClient } from "effect/sql"
import { DatabaseInfo } from "../../db/Database.ts"
import { hasPostgres, needsPostgres } from "../../db/testing.ts"
import { Pool } from "../../pool/Pool.ts"
import { PoolTest } from "../../pool/testing.ts"

// The database drops a connection in the middle of a tick (pg_terminate_backend): that tick fails, the scheduled loop
// logs it, and the next runs work again. Needs a real Postgres server (CI sets DATABASE_URL): embedded PGlite runs
// in-process and has no backends to terminate, so there the tests are skipped, saying so.

/** Every warning the pool logs (the scheduled tick loop logs each failed tick). */
const warnings: Array<string> = []
const captureWarnings = Logger.layer(
  [
    Logger.make(
      (o) =>
        void (
          o.logLevel === "Warn" && warnings.push(`${[o.message].flat().map(String).join(" ")} ${Cause.pretty(o.cause)}`)
        ),
    ),
  ],
  { mergeWithExisting: true },
)
const tickFailures = () => warnings.filter((w) => w.includes("pool tick failed")).length

const waitFor = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, tries = 100) =>
  Effect.gen(function* () {
    for (let t = 0; t < tries; t++) {
      if (yield* check.pipe(Effect.orElseSucceed(() => false))) return
      yield* Effect.sleep(100)
    }
    assert.fail(`timed out waiting for ${what}`)
  })

/** Starts n instances and waits until the scheduled tick has promoted them all: the loop is ticking. */
const promotedBySchedule = (n: number) =>
  Effect.gen(function* () {
    const pool = yield* Pool
    const ids = (yield* pool.replenish(n).pipe(Effect.retry({ times: 5 }))).map((i) => i.id)
    yield* waitFor(
      "the scheduled tick to promote new instances",
      pool.list({ status: ["idle"] }).pipe(Effect.map((rows) => ids.every((id) => rows.some((r) => r.id === id)))),
    )
  })

describe.skipIf(!hasPostgres())(needsPostgres("database fault (embedded PGlite has no backends to terminate)"), () => {
  layer(
    PoolTest({
      settings: { runTick: true, tickInterval: Duration.millis(200), minIdle: 0, maxTotal: 50 },
      cloud: { readyAfter: "50 millis" },
    }).pipe(Layer.provide(captureWarnings)),
    { timeout: "120 seconds", excludeTestServices: true },
  )("database fault", (it) => {
    it.effect(
      "the connection of a tick in flight is terminated: that tick fails and is logged, the next ones work",
      () =>
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const schema = /schema (\S+)/.exec((yield* DatabaseInfo).location)![1]!
          yield* promotedBySchedule(1)
          assert.strictEqual(tickFailures(), 0, "no tick failed before the fault")
          // Hold the instances table so the next tick blocks in its first query, then terminate exactly that backend.
          const terminated = yield* sql.withTransaction(
            Effect.gen(function* () {
              yield* sql`LOCK TABLE instances IN ACCESS EXCLUSIVE MODE`
              const waiting = sql<{ pid: number }>`
              SELECT pid FROM pg_stat_activity WHERE application_name = ${schema} AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`
              yield* waitFor("a tick blocked on the instances table", waiting.pipe(Effect.map((r) => r.length > 0)))
              const [row] = yield* sql<{ n: number }>`
              SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
              WHERE application_name = ${schema} AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`
              return row!.n
            }),
          )
          assert.strictEqual(terminated, 1, "one backend (the tick's) was terminated mid-query")
          yield* waitFor(
            "the failed tick to be logged",
            Effect.sync(() => tickFailures() >= 1),
          )
          assert.match(warnings.find((w) => w.includes("pool tick failed"))!, /terminat|connection/i)
          // Recovery: the schedule keeps ticking, and nothing else fails.
          yield* promotedBySchedule(2)
          assert.strictEqual(tickFailures(), 1, "exactly the tick in flight failed")
        }),
    )

    it.effect(
      "every connection terminated again and again: ticks fail meanwhile, then the loop and the tick lock recover",
      () =>
        Effect.gen(function* () {
          const pool = yield* Pool
          const sql = yield* SqlClient.SqlClient
          const schema = /schema (\S+)/.exec((yield* DatabaseInfo).location)![1]!
          const failuresBefore = tickFailures()
          let killed = 0
          for (let round = 0; round < 5; round++) {
            yield* Effect.sleep(150)
            const [row] = yield* sql<{ n: number }>`
            SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
            WHERE application_name = ${schema} AND pid <> pg_backend_pid()`.pipe(Effect.retry({ times: 5 }))
            killed += row?.n ?? 0
          }
          assert.isAbove(killed, 0, "backends were terminated")
          // The pool's own session (replica and tick lock) was among them: it reconnects and the loop goes on.
          yield* waitFor(
            "the replica session to be lost and logged",
            Effect.sync(() => warnings.some((w) => w.includes("database session lost"))),
          )
          yield* promotedBySchedule(2)
          yield* waitFor("a manual tick that runs", pool.tick.pipe(Effect.map((r) => r.ran)))
          const failuresDuring = tickFailures() - failuresBefore
          console.log(
            `database fault: ${killed} backends terminated, ${failuresDuring} tick(s) failed meanwhile, then recovered`,
          )
        }),
    )
  })
})
