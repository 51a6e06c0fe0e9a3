import type { Command } from "../types.ts"

// The /new dialog reads /skip and /cancel itself; outside a dialog they only explain themselves.

export const skipCommand: Command = {
  name: "skip",
  args: "",
  help: "while setting up an agent: keep the suggested name or instructions",
  scope: "user",
  minArgs: 0,
  maxArgs: 0,
  run: (ctx) =>
    ctx.reply(
      "There is nothing to skip: I only ask for a name and instructions while setting up an agent. Say /new to start.",
    ),
}

export const cancelCommand: Command = {
  name: "cancel",
  args: "",
  help: "while setting up an agent: stop",
  scope: "user",
  minArgs: 0,
  maxArgs: 0,
  run: (ctx) =>
    ctx.reply("There is nothing to cancel: you are not setting up an agent. Say /new to start, /help for everything."),
}
