import { Cause, Config, Effect, Exit, Option, Redacted } from "effect"
import { InvalidConfig } from "../domain/errors.ts"

// POOL_API_KEY through effect `Config` (documented in .env.example). Unset or empty: no key (the API answers mutations
// with 503; `npm start` generates one instead). Set: at least 16 characters, no spaces — a short key is guessable,
// and spaces are usually a copy-paste accident that makes the key impossible to send in a header.

export const MIN_API_KEY_LENGTH = 16

const invalid = (message: string) =>
  new InvalidConfig({ variable: "POOL_API_KEY", message: `${message} See .env.example.` })

export const poolApiKeyConfig: Config.Config<Option.Option<Redacted.Redacted<string>>> = Config.option(
  Config.Redacted("POOL_API_KEY"),
)

/** The configured key, or null when none is set; a bad value fails with InvalidConfig naming POOL_API_KEY. */
export const loadPoolApiKey: Effect.Effect<string | null, InvalidConfig> = poolApiKeyConfig.pipe(
  Effect.mapError((e) => invalid(`POOL_API_KEY could not be read: ${e.message}.`)),
  Effect.flatMap((o) => {
    if (Option.isNone(o)) return Effect.succeed(null)
    const key = Redacted.value(o.value)
    if (key.length === 0) return Effect.succeed(null)
    if (/\s/.test(key))
      return Effect.fail(
        invalid("POOL_API_KEY must not contain spaces or line breaks (check for a stray newline when pasting it)."),
      )
    if (key.length < MIN_API_KEY_LENGTH) {
      return Effect.fail(
        invalid(
          `POOL_API_KEY is too short (${key.length} characters; at least ${MIN_API_KEY_LENGTH}). Generate one with \`openssl rand -base64 24\`.`,
        ),
      )
    }
    return Effect.succeed(key)
  }),
)

/** Runs a config effect synchronously against the environment; a bad value throws the InvalidConfig (an Error). */
export const configSync = <A>(effect: Effect.Effect<A, InvalidConfig>): A => {
  const exit = Effect.runSyncExit(effect)
  if (Exit.isSuccess(exit)) return exit.value
  throw Option.getOrElse(Cause.findErrorOption(exit.cause), () => new Error("Configuration could not be read."))
}
