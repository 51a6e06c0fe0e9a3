import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Fiber, Stream } from "effect"
import { testDatabaseWith } from "../../db/testing.ts"
import { type TcpSwitch, tcpSwitch, throughSwitch } from "../../test/support/tcpSwitch.ts"
import { Pool, type PoolEvent } from "../Pool.ts"
import { PoolTest } from "../testing.ts"

// The scheduled tick when the database goes away (every connection cut, reconnects refused): each failed tick is
// published as a LoopFailing event (the manager bot posts it to the ops chat), and the loop keeps running, so ticks
// work again once the database is back.

const TICK = Duration.millis(200)
let relay: TcpSwitch | null = null
const database = testDatabaseWith({
  via: (url) =>
    Effect.gen(function* () {
      const u = new URL(url)
      relay = yield* tcpSwitch({ host: u.hostname, port: Number(u.port || 5432) })
      return throughSwitch(url, relay)
    }),
})

layer(PoolTest({ settings: { runTick: true, tickInterval: TICK }, database }), {
  timeout: "60 seconds",
  excludeTestServices: true,
})("tick loop", (it) => {
  it.effect(
    "a tick that fails (database unreachable) is published as LoopFailing; the loop goes on and ticks work once it is back",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const events: PoolEvent[] = []
        const listening = yield* pool.events.pipe(
          Stream.runForEach((e) => Effect.sync(() => void events.push(e))),
          Effect.forkScoped,
        )
        yield* Effect.sleep(Duration.times(TICK, 2)) // subscribed, and a tick or two ran fine
        assert.deepStrictEqual(
          events.filter((e) => e._tag === "LoopFailing"),
          [],
        )

        relay!.off()
        const failing = () =>
          events.filter((e): e is Extract<PoolEvent, { _tag: "LoopFailing" }> => e._tag === "LoopFailing")
        for (let i = 0; i < 100 && failing().length < 2; i++) yield* Effect.sleep(TICK)
        relay!.on()
        assert.isAtLeast(failing().length, 2, "every failed tick is told, and the loop kept running")
        assert.strictEqual(failing()[0]!.loop, "pool tick")
        assert.include(failing()[0]!.message, "pool tick failed (it failed:")
        assert.include(failing()[0]!.message, "it runs again every")

        // Back: the scheduled loop and an explicit tick both work again.
        // (An explicit tick may find the scheduled one running — ran: false — or the database still reconnecting: again.)
        let ran = false
        for (let i = 0; i < 50 && !ran; i++) {
          const result = yield* Effect.result(pool.tick)
          ran = result._tag === "Success" && result.success.ran
          if (!ran) yield* Effect.sleep(TICK)
        }
        assert.isTrue(ran, "a tick runs through again")
        const before = failing().length
        yield* Effect.sleep(Duration.times(TICK, 5))
        assert.strictEqual(failing().length, before, "no more failures once the database answers")
        yield* Fiber.interrupt(listening)
      }),
  )
})
