import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { Pool } from "../../pool/Pool.ts"
import { MemoryCloud, PoolTest } from "../../pool/testing.ts"

// The compute provider fails 30% of calls and times out another 10% while replenish/claim traffic runs for
// RELIABILITY_SECONDS (default 60). Afterwards the pool must converge to its target with nothing created twice.

const SECONDS = Number(process.env.RELIABILITY_SECONDS ?? 60)
const MIN_IDLE = 4

layer(
  PoolTest({
    settings: { minIdle: MIN_IDLE, maxTotal: 40 },
    cloud: { failRate: 0.3, stallRate: 0.1, stallFor: "300 millis", readyAfter: "100 millis" },
  }),
  { timeout: `${SECONDS + 120} seconds`, excludeTestServices: true }
)("compute faults", (it) => {
  it.effect(`a ${SECONDS}s storm of provider failures and timeouts, then the pool converges`, () =>
    Effect.gen(function* () {
      const pool = yield* Pool
      const cloud = yield* MemoryCloud
      const sql = yield* SqlClient.SqlClient
      const until = Date.now() + SECONDS * 1000
      let claims = 0
      let claimFailures = 0
      let i = 0
      while (Date.now() < until) {
        i++
        yield* Effect.result(pool.tick)
        // Bounded claim traffic: POOL_MAX_TOTAL caps live instances, and claimed ones count toward it.
        if (i % 3 === 0 && claims < 12) {
          const r = yield* Effect.result(pool.claim({ key: `storm-${i}`, claimedBy: `person-${i % 7}` }))
          if (r._tag === "Success") claims++
          else claimFailures++
        }
        if (i % 10 === 0) yield* Effect.result(pool.replenish(2))
        if (i % 15 === 0) yield* Effect.result(pool.drain(1))
        yield* Effect.sleep(100)
      }
      assert.isAbove(cloud.stats.failures, 0, "faults were injected")
      assert.isAbove(claims, 0, "some claims got through the storm")

      cloud.setFailRate(0)
      // Stalls stay at 10%: convergence must not need a perfect provider.
      let idle = 0
      for (let t = 0; t < 40 && idle < MIN_IDLE; t++) {
        yield* Effect.result(pool.tick)
        yield* Effect.sleep(150)
        idle = (yield* pool.counts).idle
      }
      assert.isAtLeast(idle, MIN_IDLE, "idle instances back at the target")

      // Nothing double-created: every instance the provider created belongs to exactly one row (or was destroyed).
      const rows = yield* sql<{ providerRef: string }>`SELECT provider_ref FROM instances WHERE provider_ref IS NOT NULL`
      const refs = rows.map((r) => r.providerRef)
      assert.strictEqual(new Set(refs).size, refs.length, "no provider instance recorded twice")
      for (const ref of cloud.instances.keys()) assert.include(refs, ref, `provider instance ${ref} has a row (not leaked)`)
      assert.strictEqual(cloud.stats.destroyedTwice, 0)
      // Every claim that succeeded is still claimed by one owner; failures left crashed instances with reasons.
      const [bad] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM instances WHERE status = 'crashed' AND last_error IS NULL`
      assert.strictEqual(bad!.n, 0)
      console.log(`provider faults: ${cloud.stats.failures} injected failures, ${claims} claims ok, ${claimFailures} refused/failed, final counts ${JSON.stringify(yield* pool.counts)}`)
    }), (SECONDS + 120) * 1000)
})
