import { Duration, Effect, Schedule } from "effect"
import { ProviderError } from "../domain/errors.ts"
import type { RuntimeClient } from "./RuntimeClient.ts"

/** How often a restarted agent's health is asked until it answers. */
const POLL = Duration.millis(500)

/**
 * Waits until the runtime at `url` answers its health as ready, for at most `within`; then fails with `late`'s message
 * (what the caller tells the person: the owner's /restart and the upgrade say different things).
 */
export const untilAnswering = (
  runtime: RuntimeClient["Service"],
  url: string,
  token: string,
  within: Duration.Duration,
  late: (within: string) => string,
) =>
  runtime.health(url, token).pipe(
    Effect.filterOrFail(
      (h) => h.ready,
      () =>
        new ProviderError({
          provider: "runtime",
          operation: "health",
          status: null,
          retryable: true,
          message: "not ready yet",
        }),
    ),
    Effect.retry(Schedule.spaced(POLL)),
    Effect.timeoutOrElse({
      duration: within,
      orElse: () =>
        Effect.fail(
          new ProviderError({
            provider: "runtime",
            operation: "restart",
            status: null,
            retryable: true,
            message: late(Duration.format(within)),
          }),
        ),
    }),
  )
