import { randomUUID } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import { PoolTest, startPool } from "../testing.ts"

// A replica's liveness is timed with Effect's Clock, not Date.now(): under TestClock, POOL_REPLICA_GONE_AFTER passes
// when the test clock is moved on, with no real wait (issue 17 "Clock for time").

layer(PoolTest(), { timeout: "120 seconds" })("pool replica on the Clock", (it) => {
  it.effect("a free lock counts as gone once POOL_REPLICA_GONE_AFTER has passed on the Clock", () =>
    Effect.gen(function* () {
      // The pool runs on the live clock (its database session's keep-alive and timeouts); its answer is asked on the
      // test clock, which is where `gone` reads the time.
      const { pool, close } = yield* TestClock.withLive(
        startPool({ settings: { replicaGoneAfter: Duration.minutes(10) } }),
      )
      const other = randomUUID() // a replica whose lock nobody holds
      assert.isFalse((yield* pool.replica.gone([other])).has(other), "first sighting of a free lock: not gone yet")
      yield* TestClock.adjust(Duration.minutes(9))
      assert.isFalse((yield* pool.replica.gone([other])).has(other), "9 of the 10 minutes: not gone yet")
      yield* TestClock.adjust(Duration.minutes(1))
      assert.isTrue((yield* pool.replica.gone([other])).has(other), "free for 10 minutes on the Clock: gone")
      yield* TestClock.withLive(close)
    }),
  )
})
