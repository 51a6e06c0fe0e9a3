import { Config, Effect, Option, Redacted } from "effect"
import { fromConfigError } from "../../domain/configProblem.ts"
import { poolEnvironment } from "../environment.ts"

// Provider keys are optional: a missing key selects the provider's disabled layer instead of failing the pool.

/** The secret in `name`, or None when unset/empty. */
export const optionalSecret = (name: string) =>
  Config.option(Config.Redacted(name)).pipe(Config.map((o) => Option.filter(o, (r) => Redacted.value(r).trim() !== "")))

export const stringOr = (name: string, fallback: string) => Config.String(name).pipe(Config.withDefault(fallback))

export const optionalString = (name: string) =>
  Config.option(Config.String(name)).pipe(Config.map((o) => Option.filter(o, (s) => s.trim() !== "")))

/** Reads a Config; a malformed value fails with InvalidConfig naming the variable (validated at start). */
export const readConfig = <A>(config: Config.Config<A>) => Effect.mapError(config, fromConfigError)

/**
 * The environment name every provider resource carries (contract: providers/environment.ts), the same one the compute
 * layer uses: POOL_ENVIRONMENT, else with Railway compute (a Railway token set) the Railway environment the pool
 * runs in (RAILWAY_ENVIRONMENT_NAME, set by Railway) or "railway" (as railway/settings.ts), else "local".
 */
export const providerEnvironment = Effect.gen(function* () {
  // The same test as railway/settings.ts railwayConfigured, read through Config.
  const tokens = yield* Effect.forEach(["RAILWAY_API_TOKEN", "RAILWAY_API_TOKENS", "RAILWAY_TOKEN"], (name) =>
    readConfig(optionalSecret(name)),
  )
  const railwayCompute = tokens.some(Option.isSome)
  const railwayName = Option.getOrNull(yield* readConfig(optionalString("RAILWAY_ENVIRONMENT_NAME")))
  return yield* poolEnvironment(railwayCompute ? (railwayName ?? "railway") : "local")
})
