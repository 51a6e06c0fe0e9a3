import { Effect } from "effect"
import type { Instance, Pool } from "@convos-agents/pool-core"
import { shortId } from "../agents.ts"
import type { CommandContext } from "../types.ts"

/** "5" → 5 for counts typed in the ops chat; NaN for anything else. */
export const count = (raw: string) => (/^\d{1,3}$/.test(raw) ? Number(raw) : Number.NaN)

/** Admins may use a short id prefix; it must match exactly one instance. */
const findInstance = (pool: Pool["Service"], ref: string) =>
  pool.list({ limit: 10_000 }).pipe(
    Effect.map((all) => {
      const hits = all.filter((i) => i.id === ref || (ref.length >= 4 && i.id.startsWith(ref)))
      return hits.length === 1
        ? hits[0]!
        : hits.length === 0
          ? `No instance ${ref}. Say /pool to list them.`
          : `"${ref}" matches ${hits.length} instances; use more of the id.`
    }),
  )

/** Runs `then` with the instance `ref` names (any owner: this is the ops chat), or replies why there is none. */
export const withInstance = (ctx: CommandContext, ref: string, then: (i: Instance) => Effect.Effect<void>) =>
  findInstance(ctx.pool, ref).pipe(
    Effect.catch(() => Effect.succeed("I could not read the pool just now; try again.")),
    Effect.flatMap((x) => (typeof x === "string" ? ctx.reply(x) : then(x))),
  )

/** One instance on one line, for /pool. */
export const instanceLine = (i: Instance) =>
  `${shortId(i.id)} ${i.status.padEnd(8)} ${i.agentName ?? "-"}${i.templateSlug ? ` (${i.templateSlug})` : ""}${i.lastError ? ` — ${i.lastError}` : ""}`
