import { withAgent } from "../agents.ts"
import { answer } from "../explain.ts"
import type { Command } from "../types.ts"

export const nameCommand: Command = {
  name: "name",
  args: "<agent> <new name>",
  help: "rename an agent",
  scope: "user",
  aliases: ["rename"],
  aliasArg: "agent",
  minArgs: 2,
  maxArgs: 2,
  run: (ctx, [ref, name]) =>
    withAgent(ctx, ref!, (agent) =>
      answer(
        ctx,
        ctx.pool.rename(agent.id, ctx.sender, name!),
        (a) => `Done: your agent is now called ${a.agentName}.`,
      ),
    ),
}
