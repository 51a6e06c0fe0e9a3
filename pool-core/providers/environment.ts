import { Config, Effect } from "effect"
import { InvalidConfig } from "../domain/errors.ts"

// Every provider resource (Railway service, OpenRouter key, AgentMail inbox, Docker container …) carries the pool's
// environment in its name or labels, so two deployments that share one provider account (staging and production, a
// fresh database) never take, list or sweep each other's resources.

const VALID = /^[a-z0-9][a-z0-9-]{0,31}$/

/**
 * POOL_ENVIRONMENT, or `fallback` when unset (compute layers pass theirs: "local" for local compute, the Railway
 * environment name on Railway). Lower-case letters, digits and dashes, at most 32 characters.
 */
export const poolEnvironment = (fallback: string) =>
  Config.String("POOL_ENVIRONMENT").pipe(
    Config.withDefault(fallback),
    Effect.mapError(
      (e) =>
        new InvalidConfig({
          variable: "POOL_ENVIRONMENT",
          message: `POOL_ENVIRONMENT could not be read: ${e.message}.`,
        }),
    ),
    Effect.flatMap((raw) => {
      const value = raw
        .trim()
        .toLowerCase()
        .replace(/[^a-z0-9-]+/g, "-")
        .replace(/^-+|-+$/g, "")
      return VALID.test(value)
        ? Effect.succeed(value)
        : Effect.fail(
            new InvalidConfig({
              variable: "POOL_ENVIRONMENT",
              message: `POOL_ENVIRONMENT must be 1–32 lower-case letters, digits or dashes (got "${raw}"), e.g. POOL_ENVIRONMENT=staging.`,
            }),
          )
    }),
  )

/** The name prefix every provider resource of this environment carries: `convos-<environment>-`. */
export const resourcePrefix = (environment: string) => `convos-${environment}-`
