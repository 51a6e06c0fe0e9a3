import { Effect } from "effect"
import type { Instance, ModelSettings, Pool } from "@convos-agents/pool-core"
import { type SpendLookup, usd } from "@convos-agents/pool-core/providers/resources"
import type { CommandContext } from "./types.ts"

export const shortId = (id: string) => id.slice(0, 8)

const PERIOD: Record<string, string> = { daily: " today", weekly: " this week", monthly: " this month" }

/** " · $0.42 of $20.00 this month"; nothing when there is no key or OpenRouter did not answer (not worth a line). */
export const spendPhrase = (s: SpendLookup = null) =>
  s === null || s === "unavailable"
    ? ""
    : ` · ${usd(s.usedUsd)}${s.limitUsd === null ? " spent" : ` of ${usd(s.limitUsd)}`}${PERIOD[s.limitReset ?? ""] ?? ""}`

/** One line per agent; with `models`, the model it thinks with too (its own, else the configured one). */
export const describeAgent = (i: Instance, spend?: SpendLookup, models?: ModelSettings) =>
  `• ${i.agentName ?? "(unnamed)"} [${shortId(i.id)}] — ${i.status === "claimed" ? "running" : i.status === "claiming" ? "setting up" : i.status}` +
  (i.templateSlug ? ` · ${i.templateSlug}` : "") +
  (models && (i.model ?? models.configured) ? ` · ${i.model ?? models.configured}` : "") +
  spendPhrase(spend) +
  (i.status === "crashed" && i.lastError ? `\n  problem: ${i.lastError}` : "")

export type Resolved =
  | { readonly _tag: "Found"; readonly agent: Instance }
  | { readonly _tag: "Problem"; readonly message: string }

/** `<agent>` = short id (or its prefix) or the name of one of the sender's own agents. Nobody else's are ever matched. */
export const resolveAgent = (pool: Pool["Service"], owner: string, ref: string) =>
  pool.list({ claimedBy: owner, status: ["claiming", "claimed", "crashed"] }).pipe(
    Effect.map((mine): Resolved => {
      const needle = ref.trim().toLowerCase()
      if (mine.length === 0) return { _tag: "Problem", message: "You have no agents yet. Say /new to get one." }
      const byId = needle.length >= 4 ? mine.filter((i) => i.id.toLowerCase().startsWith(needle)) : []
      const byName = mine.filter((i) => (i.agentName ?? "").toLowerCase() === needle)
      const matches = byId.length > 0 ? byId : byName
      if (matches.length === 1) return { _tag: "Found", agent: matches[0]! }
      if (matches.length > 1) {
        return {
          _tag: "Problem",
          message: `Several of your agents match "${ref}". Use the short id instead:\n${matches.map((i) => describeAgent(i)).join("\n")}`,
        }
      }
      return {
        _tag: "Problem",
        message: `You have no agent called "${ref}". Your agents:\n${mine.map((i) => describeAgent(i)).join("\n")}`,
      }
    }),
  )

/** Runs `then` with the sender's agent named by `ref`, or replies why there is none. Nobody else's agent is found. */
export const withAgent = (
  ctx: CommandContext,
  ref: string,
  then: (agent: Instance, name: string) => Effect.Effect<void>,
) =>
  resolveAgent(ctx.pool, ctx.sender, ref).pipe(
    Effect.catch(() =>
      Effect.succeed<Resolved>({
        _tag: "Problem",
        message: "I could not look up your agents just now. Try again in a moment.",
      }),
    ),
    Effect.flatMap((r) =>
      r._tag === "Found" ? then(r.agent, r.agent.agentName ?? shortId(r.agent.id)) : ctx.reply(r.message),
    ),
  )
