import { isPoolCount, LIMITS } from "@convos-agents/contract"
import { shortId } from "../agents.ts"
import { answer } from "../explain.ts"
import type { Command } from "../types.ts"
import { count } from "./instances.ts"

export const replenishCommand: Command = {
  name: "replenish",
  args: "<N>",
  help: `start N more instances (${LIMITS.poolCountMin}–${LIMITS.poolCountMax})`,
  scope: "ops",
  minArgs: 1,
  maxArgs: 1,
  run: (ctx, [n]) => {
    const k = count(n!)
    if (!isPoolCount(k))
      return ctx.reply(`Usage: /replenish <N> with N from ${LIMITS.poolCountMin} to ${LIMITS.poolCountMax}.`)
    return answer(
      ctx,
      ctx.pool.replenish(k),
      (made) => `Starting ${made.length} instance(s): ${made.map((i) => shortId(i.id)).join(", ")}.`,
    )
  },
}
