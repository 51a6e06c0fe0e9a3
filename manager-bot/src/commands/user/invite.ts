import { withAgent } from "../agents.ts"
import { answer } from "../explain.ts"
import type { Command } from "../types.ts"

export const inviteCommand: Command = {
  name: "invite",
  args: "<agent>",
  help: "the invite link to your agent's conversation",
  scope: "user",
  aliases: ["invite"],
  aliasArg: "agent",
  minArgs: 1,
  maxArgs: 1,
  run: (ctx, [ref]) =>
    withAgent(ctx, ref!, (agent, name) =>
      answer(ctx, ctx.pool.get(agent.id), (a) =>
        a.inviteUrl
          ? `Open this link in Convos to chat with ${name} (or share it):\n${a.inviteUrl}`
          : `${name} has no invite link (it joined another conversation, or is not ready).`,
      ),
    ),
}
