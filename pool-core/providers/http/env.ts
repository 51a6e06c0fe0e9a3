import { Config, Effect, Option, Redacted } from "effect"
import { poolEnvironment } from "../environment.ts"

// Provider keys are optional: a missing key selects the provider's disabled layer instead of failing the pool.

/** The secret in `name`, or None when unset/empty. */
export const optionalSecret = (name: string) =>
  Config.option(Config.Redacted(name)).pipe(
    Config.map((o) => Option.filter(o, (r) => Redacted.value(r).trim() !== ""))
  )

export const stringOr = (name: string, fallback: string) => Config.String(name).pipe(Config.withDefault(fallback))

export const optionalString = (name: string) =>
  Config.option(Config.String(name)).pipe(Config.map((o) => Option.filter(o, (s) => s.trim() !== "")))

/** Reads a Config, turning a malformed value into a defect with the variable named (validated at start). */
export const readConfig = <A>(config: Config.Config<A>) => Effect.orDie(config)

/**
 * The environment name every provider resource carries (contract: providers/environment.ts): POOL_ENVIRONMENT, else
 * the Railway environment this pool itself runs in (RAILWAY_ENVIRONMENT_NAME, which Railway sets in every
 * deployment), else "local".
 */
export const providerEnvironment = Effect.flatMap(readConfig(stringOr("RAILWAY_ENVIRONMENT_NAME", "")), (railway) =>
  poolEnvironment(railway.trim() === "" ? "local" : railway)
)
