import { Clock, Duration, Effect, Exit, Metric, Ref, Schedule } from "effect"
import type { SqlClient } from "effect/sql"
import type { PoolSettings } from "../config.ts"
import type { DatabaseError } from "../domain/errors.ts"
import type { InstanceCounts } from "../domain/instance.ts"
import { recordSample } from "../observability/history.ts"
import {
  claimsWaiting,
  count,
  instancesByStatus,
  tickDuration,
  tickProviderCalls,
  ticksTotal,
} from "../observability/metrics.ts"
import { checkFailed, registerCheck } from "../observability/Readiness.ts"
import { stopReason } from "../supervision/supervise.ts"
import type { CallBudget } from "./budget.ts"
import type { PoolEvent, TickReport } from "./Pool.ts"

// The scheduled tick around `run` (tick.ts): a span and metrics per run, a history sample at most once a minute from
// the replica that holds the tick, and the "tick" readiness check (/readyz). A failed tick never stops the loop: it
// runs again on the next interval and the ops chat is told.

const SAMPLE_EVERY_MS = 60_000
const STATUSES = ["starting", "idle", "claiming", "claimed", "crashed", "dead", "draining"] as const

interface TickLoopDeps {
  readonly settings: PoolSettings
  readonly run: Effect.Effect<TickReport, DatabaseError>
  readonly counts: Effect.Effect<InstanceCounts, DatabaseError>
  readonly budget: CallBudget
  readonly sql: SqlClient.SqlClient
  readonly publish: (e: PoolEvent) => Effect.Effect<void>
}

/** A tick that finished this long ago (or longer) makes the pool not ready: three intervals, at least a minute. */
export const tickStaleAfter = (interval: Duration.Duration) =>
  Duration.max(Duration.times(interval, 3), Duration.minutes(1))

export const makeTickLoop = (deps: TickLoopDeps) =>
  Effect.gen(function* () {
    const { settings, budget } = deps
    const last = yield* Ref.make<{ readonly okAt: number | null; readonly error: string | null }>({
      okAt: null,
      error: null,
    })
    const sampled = yield* Ref.make({ at: 0, spent: yield* budget.spent })

    const sample = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const previous = yield* Ref.get(sampled)
      if (now - previous.at < SAMPLE_EVERY_MS) return
      const counts = yield* deps.counts
      const spent = yield* budget.spent
      const waiting = yield* Metric.value(claimsWaiting)
      yield* recordSample(deps.sql, new Date(now), counts, waiting.value, spent - previous.spent, budget.perDay)
      yield* Ref.set(sampled, { at: now, spent })
    })

    const gauges = Effect.flatMap(deps.counts, (c) =>
      Effect.forEach(STATUSES, (s) => Metric.update(Metric.withAttributes(instancesByStatus, { status: s }), c[s]), {
        discard: true,
      }),
    )

    const run = deps.run.pipe(
      Effect.tap((report) =>
        report.ran
          ? Effect.all(
              [
                Metric.update(tickDuration, report.durationMs / 1000),
                count(ticksTotal, { outcome: "ran" }),
                Metric.update(tickProviderCalls, report.providerCalls),
                gauges,
                sample,
              ],
              { discard: true },
            )
          : count(ticksTotal, { outcome: "skipped" }),
      ),
      Effect.onExit((exit) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Exit.isSuccess(exit)
            ? Ref.set(last, { okAt: now, error: null })
            : Effect.andThen(
                Ref.update(last, (l) => ({ ...l, error: stopReason(exit) })),
                count(ticksTotal, { outcome: "failed" }),
              ),
        ),
      ),
      Effect.withSpan("pool.tick"),
    )

    if (settings.runTick) {
      const staleMs = Duration.toMillis(tickStaleAfter(settings.tickInterval))
      yield* registerCheck(
        "tick",
        Effect.gen(function* () {
          const { okAt, error } = yield* Ref.get(last)
          if (error !== null)
            return yield* checkFailed(
              `the last tick failed (${error}); it runs again every ${Duration.format(settings.tickInterval)}`,
            )
          if (okAt === null) return yield* checkFailed("the first tick has not finished yet")
          const ago = (yield* Clock.currentTimeMillis) - okAt
          if (ago > staleMs)
            return yield* checkFailed(
              `no tick finished for ${Math.round(ago / 1000)} s (POOL_TICK_INTERVAL=${Duration.format(settings.tickInterval)})`,
            )
          return `last tick ${Math.round(ago / 1000)} s ago`
        }),
      )
      yield* run.pipe(
        Effect.catchCause((cause) =>
          Effect.logWarning("pool tick failed; it runs again on the next interval", cause).pipe(
            Effect.andThen(
              deps.publish({
                _tag: "LoopFailing",
                loop: "pool tick",
                message: `pool tick failed (${stopReason(Exit.failCause(cause))}); it runs again every ${Duration.format(settings.tickInterval)}`,
              }),
            ),
          ),
        ),
        Effect.repeat(Schedule.spaced(settings.tickInterval)),
        Effect.forkScoped,
      )
    }
    return run
  })
