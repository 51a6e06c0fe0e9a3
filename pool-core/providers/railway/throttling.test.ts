import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Logger, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { railwayToken } from "./testing/fake.ts"
import { expectNothingRefused, railwayOnFake, sent, spec } from "./testing/harness.ts"
import { RAILWAY_COOLDOWNS } from "./tokens.ts"

// Railway's throttling errors arrive inside a 200 ("Whoa there pal! Only one project can be created per user every
// 30s", "You are creating volumes too quickly"). They are waited out with Railway's own window (TestClock drives
// it: no wall-clock bounds), or taken by another token of RAILWAY_API_TOKENS at once.

/** Lets the real HTTP round trips run while TestClock holds Effect time still. */
const settle = TestClock.withLive(Effect.sleep("300 millis"))
const eventually = (condition: () => boolean) =>
  TestClock.withLive(
    Effect.gen(function* () {
      for (let i = 0; i < 1_500 && !condition(); i++) yield* Effect.sleep("10 millis")
    }),
  )

/** Records what the layer logs, to know when a create has started waiting (then TestClock may move). */
const logs: Array<string> = []
const recordLogs = Logger.layer([Logger.make(({ message }) => void logs.push(String(message)))])
const waiting = (n: number) => eventually(() => logs.filter((l) => l.includes("waits")).length >= n)

describe("Railway throttling", () => {
  it.effect(
    "projectCreate throttled: waited out for Railway's 30 s, not retried sooner, then the create completes",
    () =>
      Effect.gen(function* () {
        const { fake, api, compute } = yield* railwayOnFake({ cooldowns: RAILWAY_COOLDOWNS })
        fake.throttleNext("projectCreate")
        logs.length = 0
        const fiber = yield* Effect.forkChild(compute.create(spec))
        yield* waiting(1)
        yield* settle
        yield* TestClock.adjust("29 seconds")
        yield* settle
        expect(sent(api.requests, "projectCreate")).toBe(1)
        yield* TestClock.adjust("1 second")
        const handle = yield* Fiber.join(fiber)
        expect(sent(api.requests, "projectCreate")).toBe(2)
        expect(fake.services.has(handle.providerRef)).toBe(true)
        expectNothingRefused(fake)
      }).pipe(Effect.scoped, Effect.provide(recordLogs)),
  )

  it.effect("one token creating twice: the second projectCreate waits 30 s instead of collecting Railway's error", () =>
    Effect.gen(function* () {
      const { fake, api, compute } = yield* railwayOnFake({ cooldowns: RAILWAY_COOLDOWNS })
      yield* compute.create(spec)
      logs.length = 0
      const fiber = yield* Effect.forkChild(compute.create({ ...spec, instanceId: "i2" }))
      yield* waiting(1)
      yield* settle
      expect(sent(api.requests, "projectCreate")).toBe(1)
      yield* TestClock.adjust("30 seconds")
      yield* Fiber.join(fiber)
      expect(sent(api.requests, "projectCreate")).toBe(2)
      expect(fake.projects.size).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(recordLogs)),
  )

  it.effect("RAILWAY_API_TOKENS: a throttled token hands the create to the next token at once (no wait)", () =>
    Effect.gen(function* () {
      const { fake, api, compute } = yield* railwayOnFake(
        { cooldowns: RAILWAY_COOLDOWNS, tokens: [Redacted.make("rw_second_user_token")] },
        { projectCreateWindowMs: 0, extraTokens: ["rw_second_user_token"] },
      )
      fake.throttleNext("projectCreate")
      yield* compute.create(spec) // TestClock never moves: any wait would hang here
      const creates = api.requests.filter((r) => (r.body as { query: string }).query.includes("projectCreate"))
      expect(creates.map((r) => r.headers.authorization)).toEqual([
        `Bearer ${railwayToken}`,
        "Bearer rw_second_user_token",
      ])
      expect(fake.projects.size).toBe(1)
      expectNothingRefused(fake)
    }).pipe(Effect.scoped, Effect.provide(recordLogs)),
  )

  it.effect("volumeCreate 'too quickly': not retried before the cooldown, then the create completes", () =>
    Effect.gen(function* () {
      const { fake, api, compute } = yield* railwayOnFake({ cooldowns: RAILWAY_COOLDOWNS })
      fake.throttleNext("volumeCreate")
      logs.length = 0
      const fiber = yield* Effect.forkChild(compute.create(spec))
      yield* waiting(1)
      yield* settle
      yield* TestClock.adjust("10 seconds")
      yield* settle
      expect(sent(api.requests, "volumeCreate")).toBe(1)
      yield* TestClock.adjust("20 seconds")
      const handle = yield* Fiber.join(fiber)
      expect(sent(api.requests, "volumeCreate")).toBe(2)
      expect([...fake.volumes.values()].filter((v) => v.serviceId === handle.providerRef)).toHaveLength(1)
    }).pipe(Effect.scoped, Effect.provide(recordLogs)),
  )

  it.effect(
    "throttled longer than maxThrottleWait: fails with fault throttled, and the half-made agent is deleted",
    () =>
      Effect.gen(function* () {
        const { fake, compute } = yield* railwayOnFake({ cooldowns: RAILWAY_COOLDOWNS, maxThrottleWait: "10 seconds" })
        fake.throttleNext("volumeCreate")
        const error = yield* Effect.flip(compute.create(spec))
        expect(error.fault).toBe("throttled")
        expect(error.message).toContain("RAILWAY_API_TOKENS")
        expect(fake.projects.size).toBe(0)
      }).pipe(Effect.scoped, Effect.provide(recordLogs)),
  )
})
