import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import { SqlClient } from "effect/sql"
import { AgentResources } from "../../providers/AgentResources.ts"
import { Pool } from "../Pool.ts"
import { MemoryCloud, PoolTest, startPool } from "../testing.ts"

// POOL_PROVISION_TIMEOUT covers the whole setting up of a claimed agent: provider resources AND the runtime's
// /pool/provision. Here the runtime takes 700 ms to provision and the timeout is 2 s.
// "Cut at the timeout" is shown by what was interrupted (the slow part never finished, also not later), and by time
// bounds relative to the configured delays plus the overhead of a claim measured on this machine, never by fixed ms.

const PROVISION_MS = 700
const TIMEOUT_MS = 2_000

const slowResources = (delay: Duration.Input) => {
  const released: Array<string> = []
  const acquire = { finished: 0, interrupted: 0 }
  const service: AgentResources["Service"] = {
    acquire: () =>
      Effect.sleep(delay).pipe(
        Effect.tap(() => Effect.sync(() => void acquire.finished++)),
        Effect.onInterrupt(() => Effect.sync(() => void acquire.interrupted++)),
        Effect.as({ resources: [], env: {} }),
      ),
    release: (id) => Effect.sync(() => void released.push(id)),
    held: () => Effect.succeed([]),
    topUp: () => Effect.die("not used here"),
    webSearch: false,
  }
  return { service, released, acquire }
}

const oneIdle = Effect.gen(function* () {
  const pool = yield* Pool
  for (const i of yield* pool.list()) yield* pool.kill(i.id)
  yield* pool.replenish(1)
  yield* pool.tick
})

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const started = Date.now()
    const exit = yield* Effect.exit(effect)
    return { exit, ms: Date.now() - started }
  })

/** What a claim costs here beyond its configured delays (database, batching), measured now on this machine. */
const measuredOverhead = Effect.gen(function* () {
  yield* oneIdle
  const { pool, close } = yield* startPool({ resources: slowResources(0).service })
  const { exit, ms } = yield* timed(pool.claim({ key: `baseline-${Date.now()}`, claimedBy: "baseline" }))
  assert.strictEqual(exit._tag, "Success", "the baseline claim succeeds")
  yield* close
  return Math.max(0, ms - PROVISION_MS)
})

/** Waits (real time) as long as the runtime's provision takes, then says whether any provision finished meanwhile. */
const provisionsAfterTheirDelay = Effect.gen(function* () {
  yield* Effect.sleep(Duration.millis(PROVISION_MS * 2))
  return (yield* MemoryCloud).stats.provisions
})

layer(
  PoolTest({
    cloud: { provisionDelay: Duration.millis(PROVISION_MS) },
    settings: { provisionTimeout: Duration.millis(TIMEOUT_MS) },
  }),
  {
    timeout: "180 seconds",
    excludeTestServices: true,
  },
)("claim timeout", (it) => {
  it.effect(
    "resources (1.9 s) + provision (700 ms), each under the 2 s timeout, together over it: the claim is cut at the timeout, crashed, resources released",
    () =>
      Effect.gen(function* () {
        const overhead = yield* measuredOverhead
        yield* oneIdle
        const provisionsBefore = (yield* MemoryCloud).stats.provisions
        const resources = slowResources("1900 millis")
        const { pool, close } = yield* startPool({ resources: resources.service })
        const { exit, ms } = yield* timed(pool.claim({ key: "slow-both", claimedBy: "p" }))
        assert.strictEqual(exit._tag, "Failure")
        const [crashed] = yield* pool.list({ status: ["crashed"] })
        assert.isDefined(crashed, "the instance is crashed, never handed out")
        assert.include(crashed!.lastError ?? "", "did not finish setting up within 2s")
        assert.deepStrictEqual(resources.released, [crashed!.id])
        assert.strictEqual(resources.acquire.finished, 1, "the resources (under the timeout) were acquired")
        assert.strictEqual(
          yield* provisionsAfterTheirDelay,
          provisionsBefore,
          "the provision was interrupted, not left running",
        )
        assert.isAtLeast(ms, TIMEOUT_MS, "not before the timeout")
        assert.isBelow(ms, 1_900 + PROVISION_MS + overhead, "sooner than both parts would take")
        yield* close
      }),
  )

  it.effect("resources that hang: the claim still fails at the timeout and releases what was recorded", () =>
    Effect.gen(function* () {
      const overhead = yield* measuredOverhead
      yield* oneIdle
      const resources = slowResources("30 seconds")
      const { pool, close } = yield* startPool({ resources: resources.service })
      const { exit, ms } = yield* timed(pool.claim({ key: "hung-resources", claimedBy: "p" }))
      assert.strictEqual(exit._tag, "Failure")
      if (exit._tag === "Failure") assert.include(String(exit.cause), "did not finish setting up within 2s")
      assert.deepStrictEqual(resources.acquire, { finished: 0, interrupted: 1 }, "the hanging acquire was interrupted")
      assert.isBelow(ms, TIMEOUT_MS + PROVISION_MS + overhead, "cut at the timeout, not after the 30 s acquire")
      assert.strictEqual(resources.released.length, 1)
      assert.strictEqual((yield* pool.counts).crashed, 1)
      yield* close
    }),
  )

  it.effect("a runtime slower than the timeout on its own is cut at the timeout too", () =>
    Effect.gen(function* () {
      const overhead = yield* measuredOverhead
      yield* oneIdle
      const provisionsBefore = (yield* MemoryCloud).stats.provisions
      const { pool, close } = yield* startPool({ settings: { provisionTimeout: Duration.millis(300) } })
      const { exit, ms } = yield* timed(pool.claim({ key: "slow-runtime", claimedBy: "p" }))
      assert.strictEqual(exit._tag, "Failure")
      assert.strictEqual(yield* provisionsAfterTheirDelay, provisionsBefore, "the 700 ms provision was interrupted")
      assert.isBelow(ms, PROVISION_MS + overhead, "the 700 ms provision is cut at 300 ms")
      assert.strictEqual((yield* pool.counts).crashed, 1)
      yield* close
    }),
  )

  it.effect("within the timeout (fast resources, 700 ms provision, 2 s timeout): the claim succeeds", () =>
    Effect.gen(function* () {
      yield* oneIdle
      const resources = slowResources("100 millis")
      const { pool, close } = yield* startPool({ resources: resources.service })
      const result = yield* pool.claim({ key: "in-time", claimedBy: "p" })
      assert.strictEqual(result.instance.status, "claimed")
      assert.deepStrictEqual(resources.released, [])
      yield* close
    }),
  )

  it.effect(
    "a claim someone else settled as claimed meanwhile (the tick's recovery) succeeds and keeps its resources",
    () =>
      Effect.gen(function* () {
        yield* oneIdle
        const sql = yield* SqlClient.SqlClient
        const resources = slowResources("10 millis")
        const { pool, close } = yield* startPool({ resources: resources.service })
        const claiming = yield* Effect.forkChild(pool.claim({ key: "settled-elsewhere", claimedBy: "p" }))
        // While the runtime provisions (700 ms), record the instance claimed as the recovery would (the runtime finished).
        let id: string | undefined
        for (let i = 0; i < 200 && !id; i++) {
          id = (yield* pool.list({ status: ["claiming"] }))[0]?.id
          if (!id) yield* Effect.sleep(5)
        }
        assert.isDefined(id, "the claim is in progress")
        yield* sql`UPDATE instances SET status = 'claimed', conversation_id = 'conv-recovered', invite_url = 'https://dev.convos.org/v2?i=recovered', claimed_at = now() WHERE id = ${id!}`
        const result = yield* Fiber.join(claiming)
        assert.strictEqual(result.instance.id, id)
        assert.strictEqual(result.instance.status, "claimed")
        assert.deepStrictEqual(resources.released, [], "a live agent's resources are never released")
        assert.strictEqual((yield* pool.get(id!)).status, "claimed")
        yield* close
      }),
  )
})
