import type { InstanceEvent } from "@convos-agents/pool-core"
import { shortId } from "../agents.ts"
import { answer } from "../explain.ts"
import type { Command } from "../types.ts"
import { count } from "./instances.ts"

/** /events shows this many when no number is given, and never more than EVENTS_MAX (one chat message). */
export const EVENTS_DEFAULT = 10
export const EVENTS_MAX = 50

/** "2026-12-04 17:40:12 1a2b3c4d claim idle→claiming (detail)", oldest first. */
export const eventLine = (e: InstanceEvent) =>
  `${e.createdAt.toISOString().slice(0, 19).replace("T", " ")} ${shortId(e.instanceId)} ${e.kind} ${e.fromStatus ?? "·"}→${e.toStatus ?? "·"}${e.detail ? ` (${e.detail.replace(/\s+/g, " ").slice(0, 120)})` : ""}`

export const eventsCommand: Command = {
  name: "events",
  args: "[n]",
  help: `the latest n pool events, oldest first (default ${EVENTS_DEFAULT}, at most ${EVENTS_MAX})`,
  scope: "ops",
  minArgs: 0,
  maxArgs: 1,
  run: (ctx, [raw]) => {
    const n = raw === undefined ? EVENTS_DEFAULT : count(raw)
    if (!(Number.isInteger(n) && n >= 1 && n <= EVENTS_MAX))
      return ctx.reply(`Usage: /events [n] with n from 1 to ${EVENTS_MAX} (default ${EVENTS_DEFAULT}).`)
    return answer(ctx, ctx.pool.recentEvents({ limit: n }), (events) =>
      events.length === 0
        ? "No pool events yet."
        : [`The latest ${events.length} pool event(s), UTC:`, ...[...events].reverse().map(eventLine)].join("\n"),
    )
  },
}
