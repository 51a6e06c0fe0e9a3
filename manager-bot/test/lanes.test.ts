import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { makeLanes } from "../src/lanes.ts"

// The bot's per-conversation lanes: in order within a conversation, concurrent across them (bounded), and nothing
// kept once a conversation is idle.

describe("lanes", () => {
  it.live(
    "one key runs in arrival order; other keys run meanwhile; at most `concurrency` at once; idle keys are forgotten",
    () =>
      Effect.gen(function* () {
        const lanes = yield* makeLanes({ concurrency: 3, maxQueued: 100 })
        const log: string[] = []
        let running = 0
        let peak = 0
        const gate = yield* Deferred.make<void>()
        const task = (name: string, wait: boolean) =>
          Effect.gen(function* () {
            running++
            peak = Math.max(peak, running)
            if (wait) yield* Deferred.await(gate)
            else yield* Effect.sleep(5)
            log.push(name)
            running--
          })
        // "slow" holds conversation A; A's second message waits behind it, B and C go ahead.
        yield* lanes.run("A", task("A1", true))
        yield* lanes.run("A", task("A2", false))
        for (let i = 0; i < 5; i++) yield* lanes.run("B", task(`B${i}`, false))
        for (let i = 0; i < 5; i++) yield* lanes.run(`C${i}`, task(`C${i}`, false))
        for (let i = 0; i < 400 && log.length < 10; i++) yield* Effect.sleep(5)
        assert.deepStrictEqual(
          log.filter((x) => x.startsWith("B")),
          ["B0", "B1", "B2", "B3", "B4"],
          "in order within a key",
        )
        assert.strictEqual(log.filter((x) => x.startsWith("C")).length, 5, "other keys were not held up by A")
        assert.notInclude(log, "A2", "A's second message waits for its first")
        yield* Deferred.succeed(gate, undefined)
        for (let i = 0; i < 400 && log.length < 12; i++) yield* Effect.sleep(5)
        assert.deepStrictEqual(log.slice(-2), ["A1", "A2"])
        assert.isAtMost(peak, 3)
        assert.strictEqual(lanes.activeKeys(), 0)
      }),
  )

  it.live("run waits (backpressure) while maxQueued tasks are queued or running", () =>
    Effect.gen(function* () {
      const lanes = yield* makeLanes({ concurrency: 1, maxQueued: 2 })
      const gate = yield* Deferred.make<void>()
      yield* lanes.run("A", Deferred.await(gate))
      yield* lanes.run("B", Effect.void)
      const third = yield* Effect.forkChild(lanes.run("C", Effect.void))
      yield* Effect.sleep(20)
      assert.isUndefined(third.pollUnsafe(), "the third waits for room")
      yield* Deferred.succeed(gate, undefined)
      for (let i = 0; i < 100 && lanes.activeKeys() > 0; i++) yield* Effect.sleep(5)
      assert.strictEqual(lanes.activeKeys(), 0)
    }),
  )

  it.live("a key with maxPerKey tasks waiting is refused (false) while other keys still queue", () =>
    Effect.gen(function* () {
      const lanes = yield* makeLanes({ concurrency: 2, maxQueued: 100, maxPerKey: 3 })
      const gate = yield* Deferred.make<void>()
      const held = Deferred.await(gate)
      const flooded = [
        yield* lanes.run("flood", held),
        yield* lanes.run("flood", held),
        yield* lanes.run("flood", held),
        yield* lanes.run("flood", held),
      ]
      assert.deepStrictEqual(flooded, [true, true, true, false], "the fourth waiting task of one key is refused")
      let other = false
      assert.isTrue(
        yield* lanes.run(
          "other",
          Effect.sync(() => void (other = true)),
        ),
      )
      for (let i = 0; i < 200 && !other; i++) yield* Effect.sleep(5)
      assert.isTrue(other, "another key is not held up")
      yield* Deferred.succeed(gate, undefined)
      for (let i = 0; i < 200 && lanes.activeKeys() > 0; i++) yield* Effect.sleep(5)
      assert.isTrue(yield* lanes.run("flood", Effect.void), "once its tasks are done, the key takes tasks again")
    }),
  )
})
