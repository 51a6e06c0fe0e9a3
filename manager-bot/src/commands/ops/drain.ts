import { isPoolCount, LIMITS } from "@convos-agents/contract"
import { shortId } from "../agents.ts"
import { answer } from "../explain.ts"
import type { Command } from "../types.ts"
import { count } from "./instances.ts"

export const drainCommand: Command = {
  name: "drain",
  args: "<N>",
  help: `shut down N idle instances (${LIMITS.poolCountMin}–${LIMITS.poolCountMax})`,
  scope: "ops",
  minArgs: 1,
  maxArgs: 1,
  run: (ctx, [n]) => {
    const k = count(n!)
    if (!isPoolCount(k))
      return ctx.reply(`Usage: /drain <N> with N from ${LIMITS.poolCountMin} to ${LIMITS.poolCountMax}.`)
    return answer(ctx, ctx.pool.drain(k), (gone) =>
      gone.length === 0
        ? "No idle instance to drain."
        : `Drained ${gone.length}: ${gone.map((i) => shortId(i.id)).join(", ")}.`,
    )
  },
}
