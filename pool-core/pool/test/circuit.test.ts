import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import { makeProviderCircuit } from "../ProviderCircuit.ts"
import type { PoolEvent } from "../Pool.ts"

// The create circuit on its own, driven by TestClock: a failure opens it, one trial goes out once the pause is over,
// a failed trial pauses twice as long (no new alert), the trial's readiness closes it (one alert). Not authorized is a
// configuration fault that any answered call ends.

const settings = {
  createBackoff: Duration.seconds(30),
  createBackoffMax: Duration.minutes(2),
  trialTimeout: Duration.minutes(10),
}

/** The circuit plus every event it publishes (subscribed before anything happens). */
const withEvents = Effect.gen(function* () {
  const circuit = yield* makeProviderCircuit(settings)
  const events: Array<PoolEvent> = []
  const fiber = yield* Stream.runForEach(circuit.events, (e) => Effect.sync(() => void events.push(e))).pipe(
    Effect.forkChild,
  )
  yield* TestClock.adjust(0) // let the subscriber start
  return { circuit, events, stop: Fiber.interrupt(fiber) }
})

const allowed = (e: Effect.Effect<void, unknown>) => Effect.map(Effect.result(e), (r) => r._tag === "Success")

describe("ProviderCircuit", () => {
  it.effect(
    "opens on a failure, half-opens after a growing pause, closes when the trial instance is ready: one alert each way",
    () =>
      Effect.gen(function* () {
        const { circuit, events, stop } = yield* withEvents
        assert.isTrue(yield* allowed(circuit.acquire("railway")), "closed: creates go out")
        yield* circuit.failed("railway", "HTTP 503", "unavailable", null)
        const refusal = yield* Effect.flip(circuit.acquire("railway"))
        assert.match(
          refusal.message,
          /^Creating agents is paused: creates at railway failed \(HTTP 503\); the next trial is in 30s/,
        )
        yield* TestClock.adjust("29 seconds")
        assert.isFalse(yield* allowed(circuit.acquire("railway")), "still paused before 30 s")
        yield* TestClock.adjust("1 second")
        assert.isTrue(yield* allowed(circuit.acquire("railway")), "the trial")
        assert.isFalse(yield* allowed(circuit.acquire("railway")), "only one trial at a time")
        yield* circuit.created("railway", "trial-1")
        // Another instance failing meanwhile is not the trial: nothing changes.
        yield* circuit.failed("railway", "an older instance died", "unavailable", "older")
        assert.strictEqual((yield* circuit.state("railway"))._tag, "HalfOpen")
        // The trial never got ready: paused again, twice as long.
        yield* circuit.failed("railway", "not ready after 5m", "unavailable", "trial-1")
        yield* TestClock.adjust("59 seconds")
        assert.isFalse(yield* allowed(circuit.acquire("railway")), "the second pause is 60 s")
        yield* TestClock.adjust("1 second")
        assert.isTrue(yield* allowed(circuit.acquire("railway")))
        yield* circuit.failed("railway", "HTTP 503", "unavailable", null)
        yield* TestClock.adjust("119 seconds")
        assert.isFalse(yield* allowed(circuit.acquire("railway")), "the third pause is 120 s")
        yield* TestClock.adjust("1 second")
        assert.isTrue(yield* allowed(circuit.acquire("railway")))
        yield* circuit.failed("railway", "HTTP 503", "unavailable", null)
        yield* TestClock.adjust("120 seconds")
        assert.isTrue(yield* allowed(circuit.acquire("railway")), "capped at POOL_CREATE_BACKOFF_MAX (2 min here)")
        yield* circuit.created("railway", "trial-2")
        yield* circuit.ready("railway", "someone-else")
        assert.strictEqual((yield* circuit.state("railway"))._tag, "HalfOpen", "only the trial's readiness closes it")
        yield* circuit.ready("railway", "trial-2")
        assert.isTrue(yield* allowed(circuit.acquire("railway")))
        assert.isTrue(yield* allowed(circuit.acquire("railway")), "closed: no limit on creates")
        yield* TestClock.adjust(0)
        assert.deepStrictEqual(
          events.map((e) => e._tag),
          ["ProviderCircuitOpened", "ProviderCircuitClosed"],
          "one alert when it opened, one when it closed, none for the failed trials",
        )
        const closed = events[1]!
        assert.deepStrictEqual(closed, {
          _tag: "ProviderCircuitClosed",
          provider: "railway",
          pausedForMs: 30_000 + 60_000 + 120_000 + 120_000,
          failures: 4,
          fault: "unavailable",
        })
        // A new outage after closing is a new opening, with the pause back at its start.
        yield* circuit.failed("railway", "HTTP 500", "unavailable", null)
        yield* TestClock.adjust(0)
        assert.strictEqual(events.length, 3)
        assert.deepStrictEqual(events[2], {
          _tag: "ProviderCircuitOpened",
          provider: "railway",
          reason: "HTTP 500",
          fault: "unavailable",
          retryInMs: 30_000,
        })
        yield* stop
      }),
  )

  it.effect(
    "not authorized is a configuration fault: one alert, then any answered call closes it; other providers are unaffected",
    () =>
      Effect.gen(function* () {
        const { circuit, events, stop } = yield* withEvents
        yield* circuit.refused("railway", "railway status failed: Not Authorized")
        const state = yield* circuit.state("railway")
        assert.isTrue(state._tag === "Open" && state.fault === "unauthorized")
        const refusal = yield* Effect.flip(circuit.acquire("railway"))
        assert.strictEqual(refusal.fault, "unauthorized")
        assert.include(refusal.message, "Fix the provider key or its permissions")
        yield* circuit.refused("railway", "again")
        assert.isTrue(yield* allowed(circuit.acquire("local")), "a circuit per provider")
        yield* circuit.answered("railway")
        assert.strictEqual((yield* circuit.state("railway"))._tag, "Closed")
        yield* TestClock.adjust(0)
        assert.deepStrictEqual(
          events.map((e) => [e._tag, "fault" in e ? e.fault : null]),
          [
            ["ProviderCircuitOpened", "unauthorized"],
            ["ProviderCircuitClosed", "unauthorized"],
          ],
        )
        yield* stop
      }),
  )

  it.effect(
    "an outage that turns out to be a refused key tells ops once more (what to fix); answered calls do not end other outages",
    () =>
      Effect.gen(function* () {
        const { circuit, events, stop } = yield* withEvents
        yield* circuit.failed("railway", "HTTP 503", "unavailable", null)
        yield* circuit.answered("railway")
        assert.strictEqual(
          (yield* circuit.state("railway"))._tag,
          "Open",
          "a status answer is no proof that creates work",
        )
        yield* circuit.refused("railway", "Not Authorized")
        yield* circuit.refused("railway", "Not Authorized")
        yield* TestClock.adjust(0)
        assert.deepStrictEqual(
          events.map((e) => [e._tag, "fault" in e ? e.fault : null]),
          [
            ["ProviderCircuitOpened", "unavailable"],
            ["ProviderCircuitOpened", "unauthorized"],
          ],
        )
        yield* stop
      }),
  )
})
