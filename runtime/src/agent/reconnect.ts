// How the agent reconnects to messaging: exponential backoff, capped, forever (until its scope closes).
import { Duration, Effect, Schedule } from "effect"

export interface ReconnectPolicy {
  /** First delay between attempts (doubles each time). Default 1 s. */
  readonly baseMs?: number
  /** Longest delay between attempts. Default 30 s. */
  readonly maxMs?: number
}

export const reconnectSchedule = (policy: ReconnectPolicy = {}) => {
  const max = Duration.millis(policy.maxMs ?? 30_000)
  return Schedule.exponential(Duration.millis(policy.baseMs ?? 1_000)).pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, max))),
  )
}
