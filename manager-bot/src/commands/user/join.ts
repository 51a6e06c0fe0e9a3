import { withAgent } from "../agents.ts"
import { answerRecorded } from "../explain.ts"
import type { Command } from "../types.ts"

export const joinCommand: Command = {
  name: "join",
  args: "<agent> <convos invite link>",
  help: "send your agent into another conversation",
  scope: "user",
  aliases: ["join"],
  aliasArg: "agent",
  minArgs: 2,
  maxArgs: 2,
  run: (ctx, [ref, url]) =>
    withAgent(ctx, ref!, (agent, name) =>
      answerRecorded(ctx, ctx.pool.join(agent.id, ctx.sender, url!.trim()), (r) =>
        r.pending
          ? `${name} asked to join; it gets in as soon as the conversation's owner opens Convos and accepts.`
          : `${name} joined the conversation.`,
      ),
    ),
}
