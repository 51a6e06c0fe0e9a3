import type { Command } from "./types.ts"

export type Parsed =
  | { readonly _tag: "Command"; readonly command: Command; readonly args: ReadonlyArray<string> }
  | { readonly _tag: "Usage"; readonly command: Command; readonly problem: string }
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

export const usage = (c: Command) => `/${c.name}${c.args ? ` ${c.args}` : ""}`

/**
 * "/name Ada Lovelace" → name with args ["Ada", "Lovelace"] joined into maxArgs slots: the last slot takes the rest
 * of the line, so names and instructions can contain spaces. Plain-word aliases match the whole message
 * (case-insensitive) or its first words.
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
    const lower = trimmed.toLowerCase()
    for (const c of commands) {
      const alias = c.aliases?.find((a) => lower === a || lower.startsWith(`${a} `))
      if (alias) {
        command = c
        rest = trimmed.slice(alias.length).trim()
        break
      }
    }
    if (!command) return { _tag: "Unknown", word: null }
  }
  const args = splitArgs(rest, command.maxArgs)
  if (args.length < command.minArgs) {
    return { _tag: "Usage", command, problem: `${usage(command)} needs ${command.minArgs === 1 ? "an argument" : `${command.minArgs} arguments`}.` }
  }
  return { _tag: "Command", command, args }
}

export const helpText = (commands: ReadonlyArray<Command>, scope: "user" | "ops") => {
  const lines = commands.filter((c) => c.scope === scope).map((c) => `${usage(c)} — ${c.help}`)
  return scope === "user"
    ? ["Here is what I can do:", ...lines, "", "<agent> is your agent's name or the short id from /agents."].join("\n")
    : ["Ops commands (this chat only):", ...lines].join("\n")
}
