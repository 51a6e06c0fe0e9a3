import { Effect } from "effect"
import type { Instance, Pool } from "@convos-agents/pool-core"
import { replyOr } from "./explain.ts"
import { shortId } from "./agents.ts"
import { usd } from "@convos-agents/pool-core/providers/resources/spend.ts"
import type { Command, CommandContext } from "./types.ts"

const count = (raw: string) => (/^\d{1,3}$/.test(raw) ? Number(raw) : Number.NaN)
/** "5", "12.50", "$5": USD in whole cents; NaN otherwise (the upper bound is the top-up's own check). */
const dollars = (raw: string) => (/^\$?\d{1,6}(\.\d{1,2})?$/.test(raw) ? Number(raw.replace(/^\$/, "")) : Number.NaN)

/** Admins may use a short id prefix; it must match exactly one instance. */
const findInstance = (pool: Pool["Service"], ref: string) =>
  pool.list({ limit: 10_000 }).pipe(
    Effect.map((all) => {
      const hits = all.filter((i) => i.id === ref || (ref.length >= 4 && i.id.startsWith(ref)))
      return hits.length === 1 ? hits[0]! : hits.length === 0 ? `No instance ${ref}. Say /pool to list them.` : `"${ref}" matches ${hits.length} instances; use more of the id.`
    })
  )

const withInstance = (ctx: CommandContext, ref: string, then: (i: Instance) => Effect.Effect<string>) =>
  findInstance(ctx.pool, ref).pipe(
    Effect.flatMap((x) => (typeof x === "string" ? Effect.succeed(x) : then(x))),
    Effect.catch(() => Effect.succeed("I could not read the pool just now; try again."))
  )

const line = (i: Instance) =>
  `${shortId(i.id)} ${i.status.padEnd(8)} ${i.agentName ?? "-"}${i.templateSlug ? ` (${i.templateSlug})` : ""}${i.lastError ? ` — ${i.lastError}` : ""}`

export const opsCommands: ReadonlyArray<Command> = [
  {
    name: "counts",
    args: "",
    help: "instances per state and the targets",
    scope: "ops",
    minArgs: 0,
    maxArgs: 0,
    run: (ctx) =>
      replyOr(ctx.pool.counts, (c) =>
        `idle ${c.idle} · starting ${c.starting} · claiming ${c.claiming} · claimed ${c.claimed} · crashed ${c.crashed} · dead ${c.dead} · draining ${c.draining} · total ${c.total}\n` +
        `target idle ${ctx.pool.targets.minIdle}, max ${ctx.pool.targets.maxTotal}`
      ),
  },
  {
    name: "pool",
    args: "",
    help: "list instances",
    scope: "ops",
    minArgs: 0,
    maxArgs: 0,
    run: (ctx) => replyOr(ctx.pool.list({ limit: 50 }), (all) => (all.length === 0 ? "The pool is empty. /replenish N adds instances." : all.map(line).join("\n"))),
  },
  {
    name: "replenish",
    args: "<N>",
    help: "start N more instances (1–20)",
    scope: "ops",
    minArgs: 1,
    maxArgs: 1,
    run: (ctx, [n]) => {
      const k = count(n!)
      if (!(k >= 1 && k <= 20)) return Effect.succeed("Usage: /replenish <N> with N from 1 to 20.")
      return replyOr(ctx.pool.replenish(k), (made) => `Starting ${made.length} instance(s): ${made.map((i) => shortId(i.id)).join(", ")}.`)
    },
  },
  {
    name: "drain",
    args: "<N>",
    help: "shut down N idle instances (1–20)",
    scope: "ops",
    minArgs: 1,
    maxArgs: 1,
    run: (ctx, [n]) => {
      const k = count(n!)
      if (!(k >= 1 && k <= 20)) return Effect.succeed("Usage: /drain <N> with N from 1 to 20.")
      return replyOr(ctx.pool.drain(k), (gone) => (gone.length === 0 ? "No idle instance to drain." : `Drained ${gone.length}: ${gone.map((i) => shortId(i.id)).join(", ")}.`))
    },
  },
  {
    name: "reconcile",
    args: "",
    help: "run the reconcile tick now",
    scope: "ops",
    minArgs: 0,
    maxArgs: 0,
    run: (ctx) =>
      replyOr(ctx.pool.tick, (r) =>
        r.ran
          ? `Tick done in ${r.durationMs} ms: ${r.promoted} ready, ${r.markedDead} dead, ${r.markedCrashed} crashed, ${r.created} started.`
          : "A tick is already running (here or on another replica); try again in a few seconds."
      ),
  },
  {
    name: "kill",
    args: "<id>",
    help: "destroy an instance, whatever its state",
    scope: "ops",
    minArgs: 1,
    maxArgs: 1,
    run: (ctx, [ref]) => withInstance(ctx, ref!, (i) => replyOr(ctx.pool.kill(i.id), () => `Killed ${shortId(i.id)} (was ${i.status}).`)),
  },
  {
    name: "dismiss",
    args: "<id>",
    help: "remove a crashed or dead instance",
    scope: "ops",
    minArgs: 1,
    maxArgs: 1,
    run: (ctx, [ref]) => withInstance(ctx, ref!, (i) => replyOr(ctx.pool.dismiss(i.id), () => `Dismissed ${shortId(i.id)}.`)),
  },
  {
    name: "topup",
    args: "<id> <usd>",
    help: "raise an agent's OpenRouter spending cap by that many USD",
    scope: "ops",
    minArgs: 2,
    maxArgs: 2,
    run: (ctx, [ref, amount]) => {
      const n = dollars(amount!)
      if (!(n > 0)) return Effect.succeed("Usage: /topup <id> <usd> with USD above 0, e.g. /topup 1a2b3c4d 5 or 12.50.")
      return withInstance(ctx, ref!, (i) =>
        replyOr(ctx.topUp(i.id, n, `ops:${ctx.sender}`), (r) => `Topped up ${shortId(i.id)}${i.agentName ? ` (${i.agentName})` : ""} by ${usd(r.amountUsd)}: its cap is now ${usd(r.limitUsd)}.`)
      )
    },
  },
]
