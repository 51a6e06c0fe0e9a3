import { describe, expect, it } from "vitest"
import { makeRateLimiter } from "../rateLimit.ts"

describe("rate limiter", () => {
  it("allows max hits per key per window, refuses the next without counting it, and resets after the window", () => {
    let now = 1_000_000
    const limiter = makeRateLimiter({ max: 2, windowMs: 60_000 }, () => now)
    expect(limiter.hit(["ip:a", "v:1"]).allowed).toBe(true)
    expect(limiter.hit(["ip:a", "v:1"]).allowed).toBe(true)
    now += 15_000
    expect(limiter.hit(["ip:a", "v:1"])).toEqual({ allowed: false, retryAfterSeconds: 45 })
    // Any key at its limit refuses: a new cookie from the same IP, or the same cookie from another IP.
    expect(limiter.hit(["ip:a", "v:2"]).allowed).toBe(false)
    expect(limiter.hit(["ip:b", "v:1"]).allowed).toBe(false)
    // Refused attempts were not counted against the other keys: ip:b and v:2 still have their full quota.
    expect(limiter.hit(["ip:b", "v:2"]).allowed).toBe(true)
    expect(limiter.hit(["ip:b", "v:2"]).allowed).toBe(true)
    expect(limiter.hit(["ip:b", "v:2"]).allowed).toBe(false)
    now += 45_000
    expect(limiter.hit(["ip:a", "v:1"]).allowed).toBe(true)
  })

  it("forgets the oldest keys beyond maxKeys", () => {
    const limiter = makeRateLimiter({ max: 1, windowMs: 60_000, maxKeys: 2 }, () => 0)
    expect(limiter.hit(["a"]).allowed).toBe(true)
    expect(limiter.hit(["b"]).allowed).toBe(true)
    expect(limiter.hit(["c"]).allowed).toBe(true) // "a" is dropped
    expect(limiter.hit(["a"]).allowed).toBe(true)
    expect(limiter.hit(["c"]).allowed).toBe(false)
  })

  it("hitOnce counts a token once per window, and refuses a new token at the limit", () => {
    let now = 0
    const limiter = makeRateLimiter({ max: 2, windowMs: 60_000 }, () => now)
    expect(limiter.hitOnce("v1|a", ["ip:x"]).allowed).toBe(true)
    expect(limiter.hitOnce("v1|a", ["ip:x"]).allowed).toBe(true) // the same attempt again: not counted
    expect(limiter.hitOnce("v1|b", ["ip:x"]).allowed).toBe(true)
    expect(limiter.hitOnce("v1|c", ["ip:x"])).toEqual({ allowed: false, retryAfterSeconds: 60 })
    expect(limiter.hitOnce("v1|a", ["ip:x"]).allowed).toBe(true) // counted already in this window
    now += 60_000
    expect(limiter.hitOnce("v1|c", ["ip:x"]).allowed).toBe(true)
  })
})
