import { Clock, Duration, Effect, Metric, Option } from "effect"
import type { SqlClient } from "effect/sql"
import type { DatabaseError } from "../domain/errors.ts"
import type { InstanceCounts } from "../domain/instance.ts"
import { claimsWaiting } from "../observability/metrics.ts"
import type { OnProgress } from "./Pool.ts"
import { toDatabaseError } from "./repo.ts"

// Waiting claims: when no agent is idle, a claim that may wait (ClaimRequest.wait) queues here for up to CLAIM_WAIT.
// The pool starts one more instance per waiting claim (within POOL_MAX_TOTAL), the waiter is told how long that
// usually takes, and the first to queue is the first served: only the head of the queue tries to pick. The order is
// per process (each replica serves its own queue in order).

/** When the pool has never started an agent yet: what a local OpenClaw gateway takes on a 2-core machine. */
const DEFAULT_BOOT_MS = 30_000
/** While waiting: how often the head of the queue looks for an idle agent, and how often it asks the tick to run. */
const LOOK_EVERY = Duration.millis(250)
const NUDGE_EVERY_MS = 2_000

export interface ClaimQueueDeps {
  readonly sql: SqlClient.SqlClient
  readonly claimWait: Duration.Duration
  readonly counts: Effect.Effect<InstanceCounts, DatabaseError>
  /** Starts one more instance (fails when POOL_MAX_TOTAL is reached; the waiter then waits for one already starting). */
  readonly startOne: Effect.Effect<unknown, unknown>
  /** Runs the reconcile tick (promotes instances that became ready), so a waiter does not wait a whole interval. */
  readonly nudge: Effect.Effect<unknown, unknown>
}

/**
 * The median time from created to ready of the last 20 agents, and when the oldest and the newest one still starting
 * were created (also `npm start`'s warm-up progress, server/src/warmup.ts).
 */
export const bootFigures = (sql: SqlClient.SqlClient) =>
  Effect.gen(function* () {
    const recent = yield* sql<{ ms: number }>`
      SELECT extract(epoch FROM (r.created_at - s.created_at)) * 1000 AS ms
      FROM events r JOIN events s ON s.instance_id = r.instance_id AND s.from_status IS NULL AND s.to_status = 'starting'
      WHERE r.from_status = 'starting' AND r.to_status = 'idle'
      ORDER BY r.id DESC LIMIT 20`
    const [starting] = yield* sql<{
      oldest: Date | null
      newest: Date | null
    }>`SELECT min(created_at) AS oldest, max(created_at) AS newest FROM instances WHERE status = 'starting'`
    const sorted = recent.map((r) => Number(r.ms)).sort((a, b) => a - b)
    const median = sorted.length > 0 ? sorted[Math.floor(sorted.length / 2)]! : DEFAULT_BOOT_MS
    const at = (d: Date | null | undefined) => (d ? new Date(d).getTime() : null)
    return { median, oldestStartingAt: at(starting?.oldest), newestStartingAt: at(starting?.newest) }
  }).pipe(Effect.mapError(toDatabaseError))

export const makeClaimQueue = (deps: ClaimQueueDeps) => {
  /** Tickets of the claims waiting, first come first. */
  const queue: Array<object> = []

  /** Milliseconds until the next agent is likely ready: the usual boot time, less what the oldest starting one has done. */
  const estimate = Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const { median, oldestStartingAt } = yield* bootFigures(deps.sql)
    const done = oldestStartingAt === null ? 0 : Math.max(0, now - oldestStartingAt)
    return Math.max(2_000, Math.round(median - done))
  })

  /**
   * Waits for this request's turn and an idle agent: `attempt` picks one (None when there is none yet). Returns None
   * when CLAIM_WAIT passed without one. Interruptible while waiting (a caller that goes away leaves the queue).
   */
  const wait = <A, E>(attempt: Effect.Effect<Option.Option<A>, E>, onProgress: OnProgress) =>
    Effect.gen(function* () {
      const ticket = {}
      queue.push(ticket)
      yield* Metric.modify(claimsWaiting, 1)
      const leave = Effect.sync(() => {
        const at = queue.indexOf(ticket)
        if (at >= 0) queue.splice(at, 1)
      }).pipe(Effect.andThen(Metric.modify(claimsWaiting, -1)))
      return yield* Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        const deadline = started + Duration.toMillis(deps.claimWait)
        // One more instance starting for each waiting claim (the ones already starting count).
        const counts = yield* deps.counts
        if (counts.starting < queue.length) yield* deps.startOne.pipe(Effect.ignore)
        const etaMs = yield* estimate
        yield* onProgress({
          step: "wait",
          status: "active",
          message: `no idle agent: one is starting, ready in about ${Math.round(etaMs / 1000)} s`,
          etaMs,
        })
        let nudgedAt = started
        for (;;) {
          if (queue[0] === ticket) {
            const picked = yield* attempt
            if (Option.isSome(picked)) {
              yield* onProgress({ step: "wait", status: "ok", message: "an agent is ready" })
              return picked
            }
          }
          const now = yield* Clock.currentTimeMillis
          if (now >= deadline) {
            yield* onProgress({
              step: "wait",
              status: "fail",
              message: `no agent became ready within ${Duration.format(deps.claimWait)}`,
            })
            return Option.none<A>()
          }
          if (queue[0] === ticket && now - nudgedAt >= NUDGE_EVERY_MS) {
            nudgedAt = now
            yield* deps.nudge.pipe(Effect.ignore)
          }
          yield* Effect.sleep(LOOK_EVERY)
        }
      }).pipe(Effect.ensuring(leave))
    })

  return { wait, waiting: () => queue.length }
}
