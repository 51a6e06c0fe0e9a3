import { withAgent } from "../agents.ts"
import { answerRecorded } from "../explain.ts"
import type { Command } from "../types.ts"

export const instructCommand: Command = {
  name: "instruct",
  args: "<agent> <instructions>",
  help: "give an agent new instructions",
  scope: "user",
  aliases: ["instruct"],
  aliasArg: "agent",
  minArgs: 2,
  maxArgs: 2,
  run: (ctx, [ref, text]) =>
    withAgent(ctx, ref!, (agent, name) =>
      answerRecorded(
        ctx,
        ctx.pool.instruct(agent.id, ctx.sender, text!),
        () => `Done: ${name} has its new instructions.`,
      ),
    ),
}
