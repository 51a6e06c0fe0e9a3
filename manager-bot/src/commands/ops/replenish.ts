import { shortId } from "../agents.ts"
import { answer } from "../explain.ts"
import type { Command } from "../types.ts"
import { count } from "./instances.ts"

export const replenishCommand: Command = {
  name: "replenish",
  args: "<N>",
  help: "start N more instances (1–20)",
  scope: "ops",
  minArgs: 1,
  maxArgs: 1,
  run: (ctx, [n]) => {
    const k = count(n!)
    if (!(k >= 1 && k <= 20)) return ctx.reply("Usage: /replenish <N> with N from 1 to 20.")
    return answer(ctx, ctx.pool.replenish(k), (made) => `Starting ${made.length} instance(s): ${made.map((i) => shortId(i.id)).join(", ")}.`)
  },
}
