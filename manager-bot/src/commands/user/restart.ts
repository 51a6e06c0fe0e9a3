import { Effect } from "effect"
import { withAgent } from "../agents.ts"
import { explain, replyFailure } from "../explain.ts"
import type { Command } from "../types.ts"

export const restartCommand: Command = {
  name: "restart",
  args: "<agent>",
  help: "start a crashed agent again (it keeps its conversations and memory)",
  scope: "user",
  aliases: ["restart"],
  aliasArg: "agent",
  minArgs: 1,
  maxArgs: 1,
  run: (ctx, [ref]) =>
    withAgent(ctx, ref!, (agent, name) =>
      agent.status !== "crashed"
        ? ctx.reply(
            agent.status === "claimed"
              ? `${name} is running, not crashed: there is nothing to restart. /agent ${name} shows its state.`
              : `${name} is still being set up; only a crashed agent can be restarted.`,
          )
        : ctx.reply(`Restarting ${name}… I'll tell you here when it answers again.`).pipe(
            // Success is the owner notice "back up" (ownerNotices.ts), sent for every restart; a failure is said here.
            Effect.andThen(Effect.result(ctx.pool.restart(agent.id, ctx.sender))),
            Effect.flatMap((r) =>
              r._tag === "Success"
                ? Effect.void
                : replyFailure(ctx, r.failure, `${name} did not restart: ${explain(r.failure)}`),
            ),
          ),
    ),
}
