import { assert, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { SqlClient } from "effect/sql"
import { ProviderCircuit } from "../ProviderCircuit.ts"
import { MemoryCloud, PoolTest } from "../testing.ts"
import { counts, ran, shiftedPool, tagged } from "./tick-support.ts"

// What the tick asks the provider, and what it does when the provider fails or the call budget runs out: a failing
// status call alerted once per try with growing pauses, one ref asked about during a configuration fault, a spent
// budget, the top-up within the budget. Each pool has its own clock, moved on by the test (makeShiftedClock).

layer(PoolTest(), { timeout: "60 seconds", excludeTestServices: true })("the tick: asking the provider", (it) => {
  it.effect(
    "a status call that fails is alerted as ProviderFailing each time it is tried, with growing pauses, and its silence kills nothing",
    () =>
      Effect.gen(function* () {
        const cloud = yield* MemoryCloud
        const sql = yield* SqlClient.SqlClient
        const p = yield* shiftedPool({ settings: { tickInterval: Duration.seconds(10) } })
        const [i] = yield* p.onClock(p.pool.replenish(1))
        yield* p.tick
        // Its runtime stopped answering an hour ago and the provider has lost it, but says so only once it answers.
        yield* sql`UPDATE instances SET url = 'memory://nobody', unhealthy_since = now() - interval '1 hour' WHERE id = ${i!.id}`
        cloud.setState(i!.providerRef!, "gone")
        cloud.failAll(503)
        const calls = () => cloud.stats.statusCalls
        const asked: Array<number> = []
        // Pauses after failures: 10 s (the tick interval), then 20 s. Ticks at +0, +5, +11, +21, +32 s.
        for (const step of [0, 5, 6, 10, 11]) {
          yield* p.time.advance(Duration.seconds(step))
          const before = calls()
          const report = yield* p.tick
          asked.push(calls() - before)
          assert.strictEqual(report.providerCalls, calls() - before)
          assert.strictEqual(report.markedDead, 0, "no answer is no evidence")
        }
        assert.deepStrictEqual(asked, [1, 0, 1, 0, 1])
        const failing = tagged(p.events, "ProviderFailing")
        assert.strictEqual(failing.length, 3, "one alert per failed try")
        assert.deepStrictEqual(failing[0], {
          _tag: "ProviderFailing",
          provider: "memory",
          message: "memory compute: status refused: HTTP 503",
        })
        assert.strictEqual((yield* p.onClock(p.pool.get(i!.id))).status, "idle")
        cloud.failAll(null)
        yield* p.time.advance(Duration.minutes(1))
        const answered = yield* p.tick
        assert.strictEqual(answered.markedDead, 1, "its first answer past the grace period is death")
        yield* p.stop
        yield* p.close
      }),
  )

  it.effect(
    "while the provider refuses the key, one ref is asked about even when every runtime answers; once it answers, none",
    () =>
      Effect.gen(function* () {
        const cloud = yield* MemoryCloud
        const sql = yield* SqlClient.SqlClient
        const p = yield* shiftedPool({ settings: { tickInterval: Duration.seconds(10) } })
        yield* p.onClock(p.pool.replenish(2))
        yield* p.tick
        const [a] = yield* p.onClock(p.pool.list({ status: ["idle"] }))
        const refs = () => [cloud.stats.statusCalls, cloud.stats.statusRefs] as const
        const asked = (before: readonly [number, number]) => [refs()[0] - before[0], refs()[1] - before[1]]
        // A's runtime does not answer: the provider is asked, and refuses the key.
        yield* sql`UPDATE instances SET url = 'memory://nobody' WHERE id = ${a!.id}`
        cloud.failAll(401)
        // The memory cloud counts a request's refs only when it answers it: a refused request shows as [1, 0].
        let before = refs()
        yield* p.tick
        assert.deepStrictEqual(asked(before), [1, 0])
        assert.strictEqual((yield* (yield* ProviderCircuit).state("memory"))._tag, "Open")
        // Every runtime answers again; the key is still refused: one request, to learn when it works again.
        yield* sql`UPDATE instances SET url = ${`memory://${a!.id}`} WHERE id = ${a!.id}`
        yield* p.time.advance(Duration.minutes(1))
        before = refs()
        const during = yield* p.tick
        assert.deepStrictEqual(asked(before), [1, 0])
        assert.strictEqual(during.providerCalls, 1)
        // The key works again: the probe, about one ref of the two, is answered and ends the fault.
        cloud.failAll(null)
        yield* p.time.advance(Duration.minutes(1))
        before = refs()
        yield* p.tick
        assert.deepStrictEqual(asked(before), [1, 1], "one ref is enough to learn that the key works")
        assert.strictEqual((yield* (yield* ProviderCircuit).state("memory"))._tag, "Closed")
        yield* p.time.advance(Duration.minutes(1))
        before = refs()
        const after = yield* p.tick
        assert.deepStrictEqual(asked(before), [0, 0], "every runtime answers: nothing to ask")
        assert.strictEqual(after.providerCalls, 0)
        yield* p.stop
        yield* p.close
      }),
  )

  it.effect(
    "a spent call budget: the provider is not asked, nothing dies without its word, and a dead one waits for budget to be destroyed",
    () =>
      Effect.gen(function* () {
        const cloud = yield* MemoryCloud
        const sql = yield* SqlClient.SqlClient
        // 24 calls a day: a bucket of 1, refilled once an hour.
        const p = yield* shiftedPool({ settings: { providerCallsPerDay: 24 } })
        const [i] = yield* p.onClock(p.pool.replenish(1))
        yield* p.time.advance(Duration.hours(1))
        yield* p.tick
        yield* sql`UPDATE instances SET url = 'memory://nobody', unhealthy_since = now() - interval '1 hour' WHERE id = ${i!.id}`
        cloud.setState(i!.providerRef!, "gone")
        yield* p.time.advance(Duration.hours(1))
        const before = cloud.stats.statusCalls
        const first = yield* p.tick
        // The status call took the hour's one request: the instance is dead, and its destroy waits for budget.
        assert.deepStrictEqual(counts(first), ran({ markedDead: 1, providerCalls: 1, healthChecks: 1 }))
        assert.strictEqual(cloud.stats.statusCalls - before, 1)
        assert.isTrue(cloud.instances.has(i!.providerRef!), "not destroyed without budget")
        const [dead] = yield* p.onClock(p.pool.list({ status: ["dead"] }))
        assert.strictEqual(dead?.lastError, "memory reports it gone", "the dead row says why while it waits")
        const second = yield* p.tick
        assert.deepStrictEqual(counts(second), ran({}), "no budget: no call at all")
        yield* p.time.advance(Duration.hours(1))
        const third = yield* p.tick
        assert.deepStrictEqual(counts(third), ran({ destroyed: 1, providerCalls: 1 }))
        assert.isFalse(cloud.instances.has(i!.providerRef!))
        yield* p.stop
        yield* p.close
      }),
  )

  it.effect("an unhealthy instance is not declared dead when the budget leaves no status call this tick", () =>
    Effect.gen(function* () {
      const cloud = yield* MemoryCloud
      const sql = yield* SqlClient.SqlClient
      const p = yield* shiftedPool({ settings: { providerCallsPerDay: 24 } })
      const [i] = yield* p.onClock(p.pool.replenish(1)) // spends the bucket's one request
      yield* sql`UPDATE instances SET url = 'memory://nobody', unhealthy_since = now() - interval '1 hour' WHERE id = ${i!.id}`
      cloud.setState(i!.providerRef!, "gone")
      const before = cloud.stats.statusCalls
      const report = yield* p.tick
      assert.deepStrictEqual(counts(report), ran({ healthChecks: 1 }))
      assert.strictEqual(cloud.stats.statusCalls, before, "the provider was not asked")
      assert.strictEqual((yield* p.onClock(p.pool.get(i!.id))).status, "starting")
      yield* p.stop
      yield* p.close
    }),
  )

  it.effect(
    "top-up: below POOL_MIN_IDLE it says so (IdleBelowTarget) and creates what the budget affords, starting ones counted",
    () =>
      Effect.gen(function* () {
        // 48 calls a day: a bucket of 2 creates, refilled 2 an hour.
        const p = yield* shiftedPool({ settings: { minIdle: 3, maxTotal: 10, providerCallsPerDay: 48 } })
        const first = yield* p.tick
        assert.deepStrictEqual(counts(first), ran({ created: 2, providerCalls: 2 }))
        const second = yield* p.tick
        assert.deepStrictEqual(counts(second), ran({ promoted: 2, healthChecks: 2 }), "no budget left to create")
        yield* p.time.advance(Duration.hours(1))
        const third = yield* p.tick
        assert.deepStrictEqual(counts(third), ran({ created: 1, providerCalls: 1, healthChecks: 2 }))
        yield* p.time.advance(Duration.hours(1))
        const fourth = yield* p.tick
        assert.deepStrictEqual(counts(fourth), ran({ promoted: 1, healthChecks: 3 }), "3 idle: nothing to create")
        yield* p.stop
        assert.deepStrictEqual(
          tagged(p.events, "IdleBelowTarget").map((e) => e.idle),
          [0, 2, 2],
          "each tick below the target says so, none at it",
        )
        assert.isTrue(tagged(p.events, "IdleBelowTarget").every((e) => e.target === 3))
        yield* p.close
      }),
  )

  it.effect("after an answer the provider is asked again only once POOL_PROVIDER_STATUS_INTERVAL has passed", () =>
    Effect.gen(function* () {
      const cloud = yield* MemoryCloud
      const p = yield* shiftedPool({ settings: { providerStatusInterval: Duration.minutes(1) } })
      const [i] = yield* p.onClock(p.pool.replenish(1))
      cloud.setState(i!.providerRef!, "sleeping") // starting, and the provider has to be asked about it
      const asked: Array<number> = []
      for (const step of [0, 10, 51, 30]) {
        yield* p.time.advance(Duration.seconds(step))
        const before = cloud.stats.statusCalls
        yield* p.tick
        asked.push(cloud.stats.statusCalls - before)
      }
      assert.deepStrictEqual(asked, [1, 0, 1, 0], "at +0 s, not at +10 s, again at +61 s, not at +91 s")
      yield* p.stop
      yield* p.close
    }),
  )
})

layer(PoolTest(), { timeout: "60 seconds", excludeTestServices: true })(
  "the tick: a destroy the provider refuses",
  (it) => {
    it.effect(
      "a destroy refused as not authorized halts the tick there (no top-up); one that fails otherwise does not",
      () =>
        Effect.gen(function* () {
          const cloud = yield* MemoryCloud
          const sql = yield* SqlClient.SqlClient
          const p = yield* shiftedPool({ settings: { minIdle: 1 } })
          yield* p.tick // creates one
          yield* p.tick // promotes it
          const below = () => tagged(p.events, "IdleBelowTarget").length
          yield* sql`UPDATE instances SET status = 'dead'`
          cloud.failAll(503)
          const before503 = below()
          yield* p.tick
          assert.strictEqual(below() - before503, 1, "an unavailable provider: the tick goes on to the top-up")
          cloud.failAll(401)
          yield* p.time.advance(Duration.minutes(1)) // past the 30 s before a failed destroy is tried again
          const before401 = below()
          yield* p.tick
          assert.strictEqual(below(), before401, "a refused key: the tick stops at the destroy, no top-up")
          assert.strictEqual((yield* (yield* ProviderCircuit).state("memory"))._tag, "Open")
          cloud.failAll(null)
          yield* p.stop
          yield* p.close
        }),
    )
  },
)
