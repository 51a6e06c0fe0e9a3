import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import { SqlClient } from "effect/sql"
import { AgentResources } from "../../providers/AgentResources.ts"
import { Pool } from "../Pool.ts"
import { PoolTest, startPool } from "../testing.ts"

// POOL_PROVISION_TIMEOUT covers the whole setting up of a claimed agent: provider resources AND the runtime's
// /pool/provision. Here the runtime takes 700 ms to provision and the timeout is 1 s.

const slowResources = (delay: Duration.Input) => {
  const released: Array<string> = []
  const service: AgentResources["Service"] = {
    acquire: () => Effect.sleep(delay).pipe(Effect.as({ resources: [], env: {} })),
    release: (id) => Effect.sync(() => void released.push(id)),
    held: () => Effect.succeed([]),
    topUp: () => Effect.die("not used here"),
  }
  return { service, released }
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

layer(PoolTest({ cloud: { provisionDelay: "700 millis" }, settings: { provisionTimeout: Duration.seconds(1) } }), {
  timeout: "120 seconds",
  excludeTestServices: true,
})("claim timeout", (it) => {
  it.effect("resources (700 ms) + provision (700 ms) over the 1 s timeout: the claim fails at 1 s, crashed, resources released", () =>
    Effect.gen(function* () {
      yield* oneIdle
      const resources = slowResources("700 millis")
      const { pool, close } = yield* startPool({ resources: resources.service })
      const { exit, ms } = yield* timed(pool.claim({ key: "slow-both", claimedBy: "p" }))
      assert.strictEqual(exit._tag, "Failure")
      const [crashed] = yield* pool.list({ status: ["crashed"] })
      assert.isDefined(crashed, "the instance is crashed, never handed out")
      assert.include(crashed!.lastError ?? "", "did not finish setting up within 1s")
      assert.deepStrictEqual(resources.released, [crashed!.id])
      assert.isBelow(ms, 2_500, "cut at the timeout")
      yield* close
    }))

  it.effect("resources that hang: the claim still fails at the timeout and releases what was recorded", () =>
    Effect.gen(function* () {
      yield* oneIdle
      const resources = slowResources("5 seconds")
      const { pool, close } = yield* startPool({ resources: resources.service })
      const { exit, ms } = yield* timed(pool.claim({ key: "hung-resources", claimedBy: "p" }))
      assert.strictEqual(exit._tag, "Failure")
      if (exit._tag === "Failure") assert.include(String(exit.cause), "did not finish setting up within 1s")
      assert.isBelow(ms, 2_500, "cut at the timeout, not after the 5 s acquire")
      assert.strictEqual(resources.released.length, 1)
      assert.strictEqual((yield* pool.counts).crashed, 1)
      yield* close
    }))

  it.effect("a runtime slower than the timeout on its own is cut at the timeout too", () =>
    Effect.gen(function* () {
      yield* oneIdle
      const { pool, close } = yield* startPool({ settings: { provisionTimeout: Duration.millis(300) } })
      const { exit, ms } = yield* timed(pool.claim({ key: "slow-runtime", claimedBy: "p" }))
      assert.strictEqual(exit._tag, "Failure")
      assert.isBelow(ms, 690, "the 700 ms provision is interrupted at 300 ms")
      assert.strictEqual((yield* pool.counts).crashed, 1)
      yield* close
    }))

  it.effect("within the timeout (fast resources, 700 ms provision): the claim succeeds", () =>
    Effect.gen(function* () {
      yield* oneIdle
      const resources = slowResources("100 millis")
      const { pool, close } = yield* startPool({ resources: resources.service })
      const result = yield* pool.claim({ key: "in-time", claimedBy: "p" })
      assert.strictEqual(result.instance.status, "claimed")
      assert.deepStrictEqual(resources.released, [])
      yield* close
    }))

  it.effect("a claim someone else settled as claimed meanwhile (the tick's recovery) succeeds and keeps its resources", () =>
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
    }))
})
