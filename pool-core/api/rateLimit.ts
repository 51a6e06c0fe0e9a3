// A fixed-window counter per key (visitor IP and visitor cookie are counted separately, so clearing cookies does not
// reset the limit and one shared IP (NAT) is not blocked by a single visitor before its own cookie limit hits).
// State lives in the app instance that created it: no globals, so two apps (tests) never share counts.

export interface RateLimitOptions {
  /** Claims allowed per window per key. */
  readonly max: number
  readonly windowMs: number
  /** Keys remembered at most (oldest windows are dropped first), so a flood of IPs cannot grow memory forever. */
  readonly maxKeys?: number
}

export interface RateLimitVerdict {
  readonly allowed: boolean
  /** Seconds until the window of the tightest key resets. */
  readonly retryAfterSeconds: number
}

export const makeRateLimiter = (options: RateLimitOptions, now: () => number = Date.now) => {
  const windows = new Map<string, { start: number; count: number }>()
  const maxKeys = options.maxKeys ?? 10_000

  const current = (key: string, t: number) => {
    const w = windows.get(key)
    if (w && t - w.start < options.windowMs) return w
    const fresh = { start: t, count: 0 }
    windows.delete(key)
    windows.set(key, fresh)
    if (windows.size > maxKeys) windows.delete(windows.keys().next().value!)
    return fresh
  }

  /** Counts one attempt for every key; refused (and not counted) when any key is at its limit. */
  const hit = (keys: ReadonlyArray<string>): RateLimitVerdict => {
    const t = now()
    const ws = keys.map((k) => current(k, t))
    const full = ws.filter((w) => w.count >= options.max)
    if (full.length > 0) {
      const resetMs = Math.max(...full.map((w) => w.start + options.windowMs - t))
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(resetMs / 1000)) }
    }
    for (const w of ws) w.count++
    return { allowed: true, retryAfterSeconds: 0 }
  }

  // Attempts already counted in this window (by token): retrying the same thing (a page that refreshes itself while it
  // waits) is not a new attempt. Bounded like the windows.
  const counted = new Map<string, number>()

  /** Like hit, but an attempt with a token already counted within the window passes without counting again. */
  const hitOnce = (token: string, keys: ReadonlyArray<string>): RateLimitVerdict => {
    const t = now()
    const at = counted.get(token)
    if (at !== undefined && t - at < options.windowMs) return { allowed: true, retryAfterSeconds: 0 }
    const verdict = hit(keys)
    if (verdict.allowed) {
      counted.delete(token)
      counted.set(token, t)
      if (counted.size > maxKeys) counted.delete(counted.keys().next().value!)
    }
    return verdict
  }

  return { hit, hitOnce }
}
export type RateLimiter = ReturnType<typeof makeRateLimiter>
