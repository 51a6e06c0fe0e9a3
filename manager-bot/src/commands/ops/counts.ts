import { answer } from "../explain.ts"
import type { Command } from "../types.ts"

export const countsCommand: Command = {
  name: "counts",
  args: "",
  help: "instances per state and the targets",
  scope: "ops",
  minArgs: 0,
  maxArgs: 0,
  run: (ctx) =>
    answer(
      ctx,
      ctx.pool.counts,
      (c) =>
        `idle ${c.idle} · starting ${c.starting} · claiming ${c.claiming} · claimed ${c.claimed} · crashed ${c.crashed} · dead ${c.dead} · draining ${c.draining} · total ${c.total}\n` +
        `target idle ${ctx.pool.targets.minIdle}, max ${ctx.pool.targets.maxTotal}`,
    ),
}
