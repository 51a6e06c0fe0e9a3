import { Effect } from "effect"
import { describeAgent } from "../agents.ts"
import { answer } from "../explain.ts"
import type { Command } from "../types.ts"

export const agentsCommand: Command = {
  name: "agents",
  args: "",
  help: "list your agents and their state",
  scope: "user",
  aliases: ["my agents", "agents", "list agents"],
  minArgs: 0,
  maxArgs: 0,
  run: (ctx) =>
    answer(
      ctx,
      ctx.pool
        .list({ claimedBy: ctx.sender, status: ["claiming", "claimed", "crashed"] })
        .pipe(Effect.flatMap((mine) => Effect.map(ctx.spendOf(mine.map((i) => i.id)), (spend) => ({ mine, spend })))),
      ({ mine, spend }) =>
        mine.length === 0
          ? "You have no agents yet. Say /new to get one."
          : ["Your agents:", ...mine.map((i) => describeAgent(i, spend.get(i.id), ctx.pool.models))].join("\n"),
    ),
}
