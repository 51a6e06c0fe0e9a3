import { usd } from "@convos-agents/pool-core/providers/resources"
import { shortId } from "../agents.ts"
import { answer } from "../explain.ts"
import type { Command } from "../types.ts"
import { withInstance } from "./instances.ts"

/** "5", "12.50", "$5": USD in whole cents; NaN otherwise (the upper bound is the top-up's own check). */
const dollars = (raw: string) => (/^\$?\d{1,6}(\.\d{1,2})?$/.test(raw) ? Number(raw.replace(/^\$/, "")) : Number.NaN)

export const topupCommand: Command = {
  name: "topup",
  args: "<id> <usd>",
  help: "raise an agent's OpenRouter spending cap by that many USD",
  scope: "ops",
  minArgs: 2,
  maxArgs: 2,
  run: (ctx, [ref, amount]) => {
    const n = dollars(amount!)
    if (!(n > 0)) return ctx.reply("Usage: /topup <id> <usd> with USD above 0, e.g. /topup 1a2b3c4d 5 or 12.50.")
    return withInstance(ctx, ref!, (i) =>
      answer(
        ctx,
        ctx.topUp(i.id, n, `ops:${ctx.sender}`, `ops:${ctx.messageId}`),
        (r) =>
          `Topped up ${shortId(i.id)}${i.agentName ? ` (${i.agentName})` : ""} by ${usd(r.amountUsd)}: its cap is now ${usd(r.limitUsd)}.`,
      ),
    )
  },
}
