import { Clock, Duration, Effect } from "effect"

// Railway throttles some mutations per user, inside a 200 answer:
// - projectCreate: "Only one project can be created per user every 30s";
// - volumeCreate: "You are creating volumes too quickly" (Railway publishes no window; 30 s like upstream).
// With one token that means waiting; with RAILWAY_API_TOKENS (tokens of different users) the next token that is
// not cooling down takes the call. Each token keeps its own cooldown per kind of call:
// - projectCreate is reserved before it is sent (Railway's rule is known: a token that created a project is busy for
//   30 s, so concurrent creates queue on the pool instead of collecting throttling errors);
// - volumeCreate cools down only when Railway said so;
// - every other call goes to the least recently used token (spreads the hourly request limit over the pool).
// Time comes from Clock, so tests drive it with TestClock.

export type CallKind = "projectCreate" | "volumeCreate" | "other"

export interface Cooldowns {
  readonly projectCreate: Duration.Input
  readonly volumeCreate: Duration.Input
}

export const RAILWAY_COOLDOWNS: Cooldowns = { projectCreate: "30 seconds", volumeCreate: "30 seconds" }

export interface TokenSlot {
  /** Index of the token in the pool (never the token itself: it goes in logs). */
  readonly index: number
  /** How long to wait before sending with it. */
  readonly waitMs: number
}

export const makeTokenPool = (size: number, cooldowns: Cooldowns = RAILWAY_COOLDOWNS) => {
  const cooldownMs = {
    projectCreate: Duration.toMillis(Duration.fromInputUnsafe(cooldowns.projectCreate)),
    volumeCreate: Duration.toMillis(Duration.fromInputUnsafe(cooldowns.volumeCreate)),
    other: 0,
  }
  const readyAt: Record<CallKind, Array<number>> = {
    projectCreate: Array(size).fill(0),
    volumeCreate: Array(size).fill(0),
    other: Array(size).fill(0),
  }
  const lastUsed: Array<number> = Array(size).fill(-1)
  let uses = 0

  /** Picks the token that is free first (or least recently used among the free ones) and books it. */
  const reserve = (kind: CallKind): Effect.Effect<TokenSlot> =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      let best = 0
      for (let i = 1; i < size; i++) {
        const a = Math.max(readyAt[kind][i]!, now)
        const b = Math.max(readyAt[kind][best]!, now)
        if (a < b || (a === b && lastUsed[i]! < lastUsed[best]!)) best = i
      }
      const at = Math.max(readyAt[kind][best]!, now)
      if (kind === "projectCreate") readyAt[kind][best] = at + cooldownMs.projectCreate
      lastUsed[best] = ++uses
      return { index: best, waitMs: at - now }
    })

  /** Railway throttled this token for this kind of call: it cools down for the kind's window from now. */
  const throttled = (kind: CallKind, index: number, retryAfterMs?: number): Effect.Effect<void> =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      readyAt[kind][index] = Math.max(readyAt[kind][index]!, now + (retryAfterMs ?? (cooldownMs[kind] || 1_000)))
    })

  return { size, reserve, throttled }
}

export type TokenPool = ReturnType<typeof makeTokenPool>

export const callKind = (query: string): CallKind =>
  /\bprojectCreate\s*\(/.test(query) ? "projectCreate" : /\bvolumeCreate\s*\(/.test(query) ? "volumeCreate" : "other"
