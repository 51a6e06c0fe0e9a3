import { Config, Effect, Layer, Logger, type LogLevel, References } from "effect"
import { InvalidConfig } from "../domain/errors.ts"

// How the process logs: LOG_FORMAT=pretty (default: readable lines for a terminal) or json (one JSON object a line,
// for a log collector), and LOG_LEVEL (default info). Annotations added with Effect.annotateLogs (instanceId, owner,
// command, provider) appear in both: as fields in json, after the message in pretty.

export type LogFormat = "pretty" | "json"

const levels: Record<string, LogLevel.LogLevel> = {
  all: "All",
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  warning: "Warn",
  error: "Error",
  fatal: "Fatal",
  none: "None",
}

const invalid = (variable: string, message: string) =>
  new InvalidConfig({ variable, message: `${message} See .env.example.` })

export const logSettings: Effect.Effect<
  { readonly format: LogFormat; readonly level: LogLevel.LogLevel },
  InvalidConfig
> = Effect.gen(function* () {
  const format = (yield* Config.String("LOG_FORMAT").pipe(
    Config.withDefault("pretty"),
    Effect.mapError((e) => invalid("LOG_FORMAT", `LOG_FORMAT could not be read: ${e.message}.`)),
  ))
    .trim()
    .toLowerCase()
  if (format !== "pretty" && format !== "json")
    return yield* invalid("LOG_FORMAT", `LOG_FORMAT must be "pretty" or "json"; got "${format.slice(0, 40)}".`)
  const levelText = (yield* Config.String("LOG_LEVEL").pipe(
    Config.withDefault("info"),
    Effect.mapError((e) => invalid("LOG_LEVEL", `LOG_LEVEL could not be read: ${e.message}.`)),
  ))
    .trim()
    .toLowerCase()
  const level = Object.hasOwn(levels, levelText) ? levels[levelText]! : null
  if (level === null)
    return yield* invalid(
      "LOG_LEVEL",
      `LOG_LEVEL must be one of ${Object.keys(levels).join(", ")}; got "${levelText.slice(0, 40)}".`,
    )
  return { format, level }
})

/** The process's logger and minimum level from LOG_FORMAT and LOG_LEVEL; a bad value fails naming the variable. */
export const LoggingLive: Layer.Layer<never, InvalidConfig> = Layer.unwrap(
  Effect.map(logSettings, ({ format, level }) =>
    Layer.merge(
      Logger.layer([format === "json" ? Logger.consoleJson : Logger.consolePretty()]),
      Layer.succeed(References.MinimumLogLevel, level),
    ),
  ),
)
