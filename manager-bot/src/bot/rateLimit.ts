import { LIMITS } from "@convos-agents/contract"
import { Clock, Effect } from "effect"
import { botCommandsTotal, count } from "@convos-agents/pool-core/observability"
import type { Middleware } from "./context.ts"

export const COMMANDS_PER_MINUTE = 30

/**
 * At most `perMinute` messages per person in a sliding minute; every message counts, over-long ones too. People who
 * went quiet are forgotten, so memory does not grow with every sender.
 */
export const rateLimit = (perMinute: number): Middleware => {
  const recent = new Map<string, number[]>()
  return (ctx, next) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const times = (recent.get(ctx.sender) ?? []).filter((t) => now - t < 60_000)
      if (times.length >= perMinute) {
        yield* count(botCommandsTotal, { command: "any", outcome: "rate_limited" })
        return yield* ctx.reply(
          `You're sending commands faster than I can take them (at most ${perMinute} a minute). Wait a moment, then try again.`,
        )
      }
      times.push(now)
      recent.set(ctx.sender, times)
      if (recent.size > 1_000) for (const [k, v] of recent) if (v.every((t) => now - t >= 60_000)) recent.delete(k)
      return yield* next(ctx)
    })
}

/** Room for the longest instructions (LIMITS) with their command and agent, so /instruct never hits this first. */
export const MAX_MESSAGE_CHARS = LIMITS.instructionsChars + 1_000

/** A message longer than any command or instructions is refused before anything reads it. */
export const sizeLimit: Middleware = (ctx, next) =>
  ctx.text.length > MAX_MESSAGE_CHARS
    ? ctx.reply(
        `That message is too long for me (${ctx.text.length} characters; at most ${MAX_MESSAGE_CHARS}). Say /help for what I can do.`,
      )
    : next(ctx)
