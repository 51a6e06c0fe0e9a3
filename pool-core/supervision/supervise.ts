// Supervision for long-running loops (a message stream, an event subscriber, a periodic job): when the loop fails,
// dies or simply ends, it is started again after a backoff delay (Effect Schedule: exponential, capped), with a
// warning in the log and, through `warn`, wherever the caller wants it seen (the manager bot's ops chat). Only the
// scope closing (interruption) stops it.
import { Cause, Duration, Effect, Exit, Schedule } from "effect"

export interface SuperviseOptions {
  /** First delay before a restart; doubles on each restart. Default 250 ms. */
  readonly baseDelay?: Duration.Input
  /** Longest delay between restarts. Default 5 s (a stream that failed is back within that). */
  readonly maxDelay?: Duration.Input
  /** Told about every restart, after the log (e.g. a post to the ops chat). Its own failures are ignored. */
  readonly warn?: (message: string) => Effect.Effect<void, unknown>
}

/** The restart delays: exponential from `baseDelay`, capped at `maxDelay`, forever. */
export const restartSchedule = (options: SuperviseOptions = {}) => {
  const max = Duration.fromInputUnsafe(options.maxDelay ?? Duration.seconds(5))
  return Schedule.exponential(options.baseDelay ?? Duration.millis(250)).pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, max))),
  )
}

/** One line on why a run stopped: the error's message (not its stack), or "it ended". */
export const stopReason = <A, E>(exit: Exit.Exit<A, E>): string => {
  if (Exit.isSuccess(exit)) return "it ended"
  const error = Cause.squash(exit.cause)
  const message =
    error instanceof Error
      ? error.message
      : typeof error === "object" && error !== null && "message" in error
        ? String((error as { message: unknown }).message)
        : String(error)
  return `it failed: ${message.split("\n")[0]!.slice(0, 300)}`
}

/**
 * Runs `loop` forever: each time it stops (failure, defect or end) it is logged, `warn` is told, and it runs again
 * after the next delay of `restartSchedule`. Fork it in a scope; closing the scope stops it.
 */
export const supervise = <A, E, R>(
  name: string,
  loop: Effect.Effect<A, E, R>,
  options: SuperviseOptions = {},
): Effect.Effect<never, never, R> => {
  const warn = options.warn ?? (() => Effect.void)
  let restarts = 0
  return loop.pipe(
    Effect.exit,
    Effect.flatMap((exit) => {
      // Interrupted from inside (not by our scope, which would have stopped us): treat like any other stop.
      restarts++
      const message = `${name} stopped (${stopReason(exit)}); restarting it (restart ${restarts}, with backoff)`
      return Effect.logWarning(message, ...(Exit.isFailure(exit) ? [exit.cause] : [])).pipe(
        Effect.andThen(warn(message).pipe(Effect.ignore)),
        Effect.catchCause(() => Effect.void),
      )
    }),
    Effect.repeat(restartSchedule(options)),
    Effect.andThen(Effect.never),
  )
}
