import { Clock, Effect } from "effect"
import { SqlClient } from "effect/sql"
import { bootFigures, Pool } from "@convos-agents/pool-core"

// `npm start`'s warm-up progress: after "ready", while the pool's idle agents are below POOL_MIN_IDLE, a line when
// another agent becomes ready and otherwise every PRINT_EVERY_MS ("agents: 1/2 ready, ~20 s"); one line when the
// pool reaches its target; then nothing more. The estimate is the median boot time of the last 20 agents (the pool's
// own figure, as for waiting claims) less what the newest agent still starting has done.

const POLL_MS = 1_000
const PRINT_EVERY_MS = 10_000
/** Warm-up that takes this long is not progress any more: one line saying so, then quiet (the admin page shows more). */
const GIVE_UP_MS = 15 * 60_000

/** "agents: 1/2 ready, ~20 s"; without a sensible estimate left, how long it usually takes. */
export const progressLine = (ready: number, target: number, etaMs: number, usualMs: number) =>
  `agents: ${ready}/${target} ready, ${etaMs >= 1_000 ? `~${Math.round(etaMs / 1_000)} s` : `taking longer than the usual ${Math.round(usualMs / 1_000)} s`}`

export const warmupProgress = (say: (line: string) => void) =>
  Effect.gen(function* () {
    const pool = yield* Pool
    const sql = yield* SqlClient.SqlClient
    const target = pool.targets.minIdle
    if (target <= 0) return
    const startedAt = yield* Clock.currentTimeMillis
    let printed: { ready: number; at: number } | null = null
    for (;;) {
      const counts = yield* pool.counts
      const now = yield* Clock.currentTimeMillis
      if (counts.idle >= target) {
        const took = printed === null ? "" : ` after ${Math.round((now - startedAt) / 1_000)} s`
        say(`pool ready: ${counts.idle}/${target} agents idle${took}`)
        return
      }
      if (now - startedAt >= GIVE_UP_MS) {
        say(
          `agents: still ${counts.idle}/${target} ready after ${Math.round(GIVE_UP_MS / 60_000)} min; see /admin and the log (no more progress lines)`,
        )
        return
      }
      if (printed === null || printed.ready !== counts.idle || now - printed.at >= PRINT_EVERY_MS) {
        const boot = yield* bootFigures(sql)
        const eta = boot.median - (boot.newestStartingAt === null ? 0 : Math.max(0, now - boot.newestStartingAt))
        say(progressLine(counts.idle, target, eta, boot.median))
        printed = { ready: counts.idle, at: now }
      }
      yield* Effect.sleep(POLL_MS)
    }
  }).pipe(
    // A database hiccup is not worth a crash or a stack trace on the terminal: the progress just stops.
    Effect.catchCause(() => Effect.void),
  )
