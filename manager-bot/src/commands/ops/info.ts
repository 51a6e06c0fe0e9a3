import { Effect } from "effect"
import { answer } from "../explain.ts"
import type { Command } from "../types.ts"

export const infoCommand: Command = {
  name: "info",
  args: "",
  help: "this deployment: version, network, compute, model, targets",
  scope: "ops",
  minArgs: 0,
  maxArgs: 0,
  run: (ctx) =>
    answer(ctx, Effect.all({ about: ctx.about, counts: ctx.pool.counts }), ({ about, counts }) =>
      [
        `version ${about.version}${about.commit ? ` (commit ${about.commit.slice(0, 7)})` : ""} · environment ${about.environment}`,
        `network: ${about.network}`,
        `compute: ${about.compute}`,
        `model: ${about.model.source}${about.model.id ? ` (${about.model.id})` : ""}`,
        `targets: idle ${ctx.pool.targets.minIdle}, max ${ctx.pool.targets.maxTotal} · now idle ${counts.idle}, total ${counts.total}`,
      ].join("\n"),
    ),
}
