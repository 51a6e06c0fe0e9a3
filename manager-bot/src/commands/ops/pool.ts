import { answer } from "../explain.ts"
import type { Command } from "../types.ts"
import { instanceLine } from "./instances.ts"

export const poolCommand: Command = {
  name: "pool",
  args: "",
  help: "list instances",
  scope: "ops",
  minArgs: 0,
  maxArgs: 0,
  run: (ctx) =>
    answer(ctx, ctx.pool.list({ limit: 50 }), (all) =>
      all.length === 0 ? "The pool is empty. /replenish N adds instances." : all.map(instanceLine).join("\n"),
    ),
}
