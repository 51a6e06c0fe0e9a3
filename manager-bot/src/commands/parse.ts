import type { Command } from "./types.ts"

/** A plain-word command with words after the alias: it counts only if the first of them is a known template/agent. */
export interface PlainArg {
  readonly kind: "template" | "agent"
  readonly value: string
}

export type Parsed =
  | {
      readonly _tag: "Command"
      readonly command: Command
      readonly args: ReadonlyArray<string>
      readonly plainArg?: PlainArg
    }
  | { readonly _tag: "Usage"; readonly command: Command; readonly problem: string; readonly plainArg?: PlainArg }
  | { readonly _tag: "Unknown"; readonly word: string | null }

/** Up to `max` arguments; the last one keeps the rest of the line as typed (spaces and newlines included). */
const splitArgs = (rest: string, max: number): string[] => {
  const args: string[] = []
  let remaining = rest
  while (remaining.length > 0 && args.length < max - 1) {
    const m = /^(\S+)\s*([\s\S]*)$/.exec(remaining)!
    args.push(m[1]!)
    remaining = m[2]!
  }
  if (remaining.length > 0 && max > 0) args.push(remaining)
  return args
}

const patterns = new Map<string, RegExp>()
/** "new agent" → /^new\s+agent(?=\s|$)/i (any spacing between the words, then the end or a space). */
const aliasPattern = (alias: string) => {
  let p = patterns.get(alias)
  if (!p)
    patterns.set(
      alias,
      (p = new RegExp(
        `^${alias
          .split(" ")
          .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
          .join("\\s+")}(?=\\s|$)`,
        "i",
      )),
    )
  return p
}

export const usage = (c: Command) => `/${c.name}${c.args ? ` ${c.args}` : ""}`

/**
 * "/name Ada Lovelace" → name with args ["Ada", "Lovelace"] joined into maxArgs slots: the last slot takes the rest
 * of the line, so names and instructions can contain spaces. Plain-word aliases match the whole message
 * (case-insensitive), or its first words when the command declares what must follow (`aliasArg`): the caller then
 * checks `plainArg` ("new agent for trips" is a sentence, "new agent trip-planner" a command).
 */
export const parseCommand = (commands: ReadonlyArray<Command>, text: string): Parsed => {
  const trimmed = text.trim()
  let command: Command | undefined
  let rest = ""
  if (trimmed.startsWith("/")) {
    const match = /^\/([A-Za-z_]+)(?:@\S+)?(?:\s+([\s\S]*))?$/.exec(trimmed)
    const name = match?.[1]?.toLowerCase() ?? null
    command = commands.find((c) => c.name === name)
    if (!command) return { _tag: "Unknown", word: name }
    rest = match?.[2]?.trim() ?? ""
  } else {
    for (const c of commands) {
      for (const alias of c.aliases ?? []) {
        const m = aliasPattern(alias).exec(trimmed)
        if (m && (m[0].length === trimmed.length || c.aliasArg !== undefined)) {
          command = c
          rest = trimmed.slice(m[0].length).trim()
          break
        }
      }
      if (command) break
    }
    if (!command) return { _tag: "Unknown", word: null }
  }
  const args = splitArgs(rest, command.maxArgs)
  const plain =
    !trimmed.startsWith("/") && command.aliasArg && args.length > 0
      ? { plainArg: { kind: command.aliasArg, value: args[0]! } }
      : {}
  if (args.length < command.minArgs) {
    return {
      _tag: "Usage",
      command,
      problem: `${usage(command)} needs ${command.minArgs === 1 ? "an argument" : `${command.minArgs} arguments`}.`,
      ...plain,
    }
  }
  return { _tag: "Command", command, args, ...plain }
}

export const helpText = (commands: ReadonlyArray<Command>, scope: "user" | "ops") => {
  const lines = commands.filter((c) => c.scope === scope || c.scope === "any").map((c) => `${usage(c)} — ${c.help}`)
  return scope === "user"
    ? ["Here is what I can do:", ...lines, "", "<agent> is your agent's name or the short id from /agents."].join("\n")
    : ["Ops commands (this chat only):", ...lines].join("\n")
}
