import { withAgent } from "../agents.ts"
import { answer } from "../explain.ts"
import type { Command } from "../types.ts"

export const releaseCommand: Command = {
  name: "release",
  args: "<agent>",
  help: "give an agent back (it is shut down for good)",
  scope: "user",
  aliases: ["release"],
  aliasArg: "agent",
  minArgs: 1,
  maxArgs: 1,
  run: (ctx, [ref]) =>
    withAgent(ctx, ref!, (agent, name) =>
      answer(ctx, ctx.pool.release(agent.id, ctx.sender), () => `${name} was released and shut down.`),
    ),
}
