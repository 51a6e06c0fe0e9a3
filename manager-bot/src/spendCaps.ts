import { Effect } from "effect"
import { agentNameForDisplay, type Pool } from "@convos-agents/pool-core"
import { type Spend, type SpendOf, usd } from "@convos-agents/pool-core/providers/resources"
import { tellOwner } from "./ownerNotices.ts"
import type { BotStore } from "./store.ts"

// Spend-cap notices: an agent whose OpenRouter key reached its cap cannot answer any more, so its owner is told in
// their manager chat, with what to do. Checked every SPEND_CHECK_INTERVAL (one OpenRouter call per running agent of a
// chat owner). Said once per cap (bot_state `spend_cap:<id>` holds the cap it was said for, changed by one replica
// only): a top-up that raises the cap, or a new period under it, makes the next time the cap is reached news again.

const PERIOD: Record<string, string> = { daily: "tomorrow", weekly: "next week", monthly: "next month" }

export const spendCapText = (name: string | null, instanceId: string, s: Spend & { readonly limitUsd: number }) => {
  const display = agentNameForDisplay(name, "Your agent")
  const resets = s.limitReset && PERIOD[s.limitReset] ? ` The cap starts again ${PERIOD[s.limitReset]}.` : ""
  return (
    `💸 ${display} [${instanceId.slice(0, 8)}] reached its spending cap (${usd(s.usedUsd)} of ${usd(s.limitUsd)}): ` +
    `it cannot answer until the cap is raised.${resets} Ask the operators for a top-up (they raise it with /topup in ` +
    "the ops chat); /agent shows its spend."
  )
}

const key = (instanceId: string) => `spend_cap:${instanceId}`

/** One round: tells the owners of running agents at their cap (once per cap); forgets the ones back under it. */
export const checkSpendCaps = (deps: {
  readonly pool: Pool["Service"]
  readonly store: BotStore["Service"]
  readonly spendOf: SpendOf
  readonly send: (conversationId: string, text: string) => Effect.Effect<unknown, unknown>
}) =>
  Effect.gen(function* () {
    const running = (yield* deps.pool.list({ status: ["claimed"] })).filter(
      (i) => i.claimedBy !== null && !i.claimedBy.startsWith("api:") && !i.claimedBy.startsWith("web:"),
    )
    if (running.length === 0) return 0
    const spends = yield* deps.spendOf(running.map((i) => i.id))
    let told = 0
    for (const agent of running) {
      const s = spends.get(agent.id)
      if (s === null || s === undefined || s === "unavailable" || s.limitUsd === null) continue
      if (s.usedUsd < s.limitUsd) {
        yield* deps.store.deleteState(key(agent.id))
        continue
      }
      if (!(yield* deps.store.changeState(key(agent.id), String(s.limitUsd)))) continue
      yield* tellOwner(deps, agent.id, spendCapText(agent.agentName, agent.id, { ...s, limitUsd: s.limitUsd }))
      told++
    }
    return told
  })
