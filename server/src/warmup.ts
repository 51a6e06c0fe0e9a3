import { Clock, Effect } from "effect"
import { SqlClient } from "effect/sql"
import { bootFigures, Pool } from "@convos-agents/pool-core"

// `npm start`'s warm-up progress: after "ready", while the pool's idle agents are below POOL_MIN_IDLE, a line when
// another agent becomes ready and otherwise every PRINT_EVERY_MS while the estimate counts down ("agents: 1/2 ready,
// ~20 s"); once past the estimate, ONE line saying so (with the estimate), then only a line when another agent becomes
// ready; one line when the pool reaches its target; then nothing more. The estimate is the median boot time of the
// last 20 agents (the pool's own figure, as for waiting claims) less what the newest agent still starting has done.

const POLL_MS = 1_000
const PRINT_EVERY_MS = 10_000
/** Warm-up that takes this long is not progress any more: one line saying so, then quiet (the admin page shows more). */
const GIVE_UP_MS = 15 * 60_000

/** What one look at the pool gives the progress: idle agents, and the boot figures behind the estimate. */
export interface WarmupLook {
  readonly idle: number
  /** Median boot time of recent agents (ms). */
  readonly usualMs: number
  /** When the newest agent still starting was created (epoch ms), null when none is starting. */
  readonly newestStartingAt: number | null
}

export interface WarmupDeps {
  readonly target: number
  readonly idle: Effect.Effect<number, unknown>
  readonly boot: Effect.Effect<Omit<WarmupLook, "idle">, unknown>
}

/**
 * The line for agents still warming, or null for none: "agents: 1/2 ready, ~20 s" while the estimate runs; past it,
 * once "taking longer than the estimated 30 s"; after that, only the count when it changed.
 */
export const progressLine = (o: {
  readonly ready: number
  readonly target: number
  readonly etaMs: number
  readonly usualMs: number
  readonly changed: boolean
  readonly overdueSaid: boolean
}): string | null => {
  const head = `agents: ${o.ready}/${o.target} ready`
  if (o.etaMs >= 1_000) return `${head}, ~${Math.round(o.etaMs / 1_000)} s`
  if (!o.overdueSaid) return `${head}, taking longer than the estimated ${Math.round(o.usualMs / 1_000)} s`
  return o.changed ? head : null
}

/** The progress loop over `deps` (the pool's counts and boot figures); `say` prints one line. */
export const warmupLoop = (deps: WarmupDeps, say: (line: string) => void) =>
  Effect.gen(function* () {
    const { target } = deps
    if (target <= 0) return
    const startedAt = yield* Clock.currentTimeMillis
    let shown: number | null = null
    let lookedAt = startedAt
    let overdueSaid = false
    for (;;) {
      const idle = yield* deps.idle
      const now = yield* Clock.currentTimeMillis
      if (idle >= target) {
        const took = shown === null ? "" : ` after ${Math.round((now - startedAt) / 1_000)} s`
        say(`pool ready: ${idle}/${target} agents idle${took}`)
        return
      }
      if (now - startedAt >= GIVE_UP_MS) {
        say(
          `agents: still ${idle}/${target} ready after ${Math.round(GIVE_UP_MS / 60_000)} min; see /admin and the log (no more progress lines)`,
        )
        return
      }
      const changed = shown !== idle
      if (changed || now - lookedAt >= PRINT_EVERY_MS) {
        lookedAt = now
        const boot = yield* deps.boot
        const etaMs = boot.usualMs - (boot.newestStartingAt === null ? 0 : Math.max(0, now - boot.newestStartingAt))
        const line = progressLine({ ready: idle, target, etaMs, usualMs: boot.usualMs, changed, overdueSaid })
        if (line !== null) {
          say(line)
          shown = idle
          if (etaMs < 1_000) overdueSaid = true
        }
      }
      yield* Effect.sleep(POLL_MS)
    }
  }).pipe(
    // A database hiccup is not worth a crash or a stack trace on the terminal: the progress just stops.
    Effect.catchCause(() => Effect.void),
  )

/** `npm start`'s warm-up progress over the pool and its database. */
export const warmupProgress = (say: (line: string) => void) =>
  Effect.gen(function* () {
    const pool = yield* Pool
    const sql = yield* SqlClient.SqlClient
    yield* warmupLoop(
      {
        target: pool.targets.minIdle,
        idle: Effect.map(pool.counts, (c) => c.idle),
        boot: Effect.map(bootFigures(sql), (b) => ({ usualMs: b.median, newestStartingAt: b.newestStartingAt })),
      },
      say,
    )
  })
