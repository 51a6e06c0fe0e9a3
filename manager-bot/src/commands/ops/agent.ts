import { Effect } from "effect"
import { agentDetail } from "../user/agent.ts"
import { answer } from "../explain.ts"
import type { Command } from "../types.ts"
import { eventLine } from "./events.ts"
import { withInstance } from "./instances.ts"

/** The ops view of one instance, whoever owns it: the owner's detail view, then its owner, times and latest events. */
export const opsAgentCommand: Command = {
  name: "agent",
  args: "<id>",
  help: "everything about any instance (its id or first 4+ characters): the owner's view, owner, times, latest events",
  scope: "ops",
  minArgs: 1,
  maxArgs: 1,
  run: (ctx, [ref]) =>
    withInstance(ctx, ref!, (i) =>
      answer(
        ctx,
        Effect.all({
          fresh: ctx.pool.get(i.id),
          resources: ctx.heldBy(i.id),
          spend: ctx.spendOf([i.id]).pipe(Effect.map((m) => m.get(i.id))),
          events: ctx.pool.recentEvents({ limit: 5, instanceId: i.id }),
        }),
        ({ fresh, resources, spend, events }) =>
          [
            agentDetail(fresh, resources, spend, null, ctx.pool.models),
            `owner: ${fresh.claimedBy ?? "none (not claimed)"}`,
            `compute: ${fresh.provider}${fresh.providerRef ? ` ${fresh.providerRef}` : ""}`,
            `created ${fresh.createdAt.toISOString()}${fresh.claimedAt ? ` · claimed ${fresh.claimedAt.toISOString()}` : ""}${fresh.lastHealthyAt ? ` · last healthy ${fresh.lastHealthyAt.toISOString()}` : ""}`,
            `latest events:\n${[...events].reverse().map(eventLine).join("\n")}`,
          ].join("\n"),
      ),
    ),
}
