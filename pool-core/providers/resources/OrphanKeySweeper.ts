import { Duration, Effect, Layer, Schedule } from "effect"
import { openRouterLayerFromEnv } from "../openrouter/OpenRouter.ts"
import { sweepOrphanKeys } from "./maintenance.ts"

/**
 * Hourly: delete OpenRouter keys that belong to no instance (left behind by a crash between creating a key and
 * recording it). A no-op when OpenRouter is not configured.
 */
export const OrphanKeySweeperLive = Layer.effectDiscard(
  sweepOrphanKeys.pipe(
    Effect.tap((deleted) =>
      deleted.length > 0 ? Effect.logInfo(`openrouter: deleted ${deleted.length} orphaned key(s)`) : Effect.void,
    ),
    Effect.catchCause((cause) =>
      Effect.logWarning("openrouter: orphan key sweep failed; it runs again in an hour", cause),
    ),
    Effect.repeat(Schedule.spaced(Duration.hours(1))),
    Effect.forkScoped,
  ),
).pipe(Layer.provide(openRouterLayerFromEnv))
