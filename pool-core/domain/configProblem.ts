import { Cause, Option } from "effect"
import { InvalidConfig } from "./errors.ts"

// A start that fails on configuration must say which variable to fix, in one line, and exit with EX_CONFIG (78,
// sysexits.h) so a supervisor can tell "fix the settings" from "crashed". Config errors reach the top as typed
// failures (InvalidConfig), as effect's own ConfigError (a Config read whose value did not parse), or, from older layer
// code, as defects: all three are recognised here.

/** sysexits.h EX_CONFIG: the configuration is wrong; restarting will not help. */
export const EXIT_CONFIG = 78

const isTagged = (u: unknown, tag: string): u is { readonly _tag: string; readonly message: string } =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === tag

/** Effect's ConfigError names the variable in its message (`at ["PORT"]`): the InvalidConfig that says so. */
export const fromConfigError = (e: { readonly message: string }): InvalidConfig => {
  const variable = /at \["([^"]+)"/.exec(e.message)?.[1] ?? "a setting"
  const reason = e.message.split("\n")[0]!.replace(/^\w+Error\(/, "")
  return new InvalidConfig({
    variable,
    message: `${variable} is not valid (${reason}); fix or unset it (see .env.example).`,
  })
}

const asInvalidConfig = (u: unknown): Option.Option<InvalidConfig> => {
  if (u instanceof InvalidConfig) return Option.some(u)
  if (isTagged(u, "InvalidConfig") && typeof (u as { variable?: unknown }).variable === "string")
    return Option.some(new InvalidConfig(u as InvalidConfig))
  if (isTagged(u, "ConfigError")) return Option.some(fromConfigError(u))
  return Option.none()
}

/** The configuration error among a cause's failures and defects, if any. */
export const configProblem = (cause: Cause.Cause<unknown>): Option.Option<InvalidConfig> => {
  for (const reason of cause.reasons) {
    const found = Cause.isFailReason(reason)
      ? asInvalidConfig(reason.error)
      : Cause.isDieReason(reason)
        ? asInvalidConfig(reason.defect)
        : Option.none()
    if (Option.isSome(found)) return found
  }
  return Option.none()
}

/** The one line `npm start` prints for it. */
export const configProblemLine = (e: InvalidConfig): string =>
  e.message.includes(e.variable)
    ? `configuration error: ${e.message}`
    : `configuration error (${e.variable}): ${e.message}`
