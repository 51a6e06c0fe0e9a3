import { helpText } from "./parse.ts"
import type { Command } from "./types.ts"

/** /help, declared like every other command; it lists the commands of the chat it is asked in (`all` is read lazily). */
export const helpCommand = (all: () => ReadonlyArray<Command>): Command => ({
  name: "help",
  args: "",
  help: "this list",
  scope: "any",
  aliases: ["help", "?", "commands"],
  minArgs: 0,
  maxArgs: 0,
  run: (ctx) => ctx.reply(helpText(all(), ctx.where)),
})
