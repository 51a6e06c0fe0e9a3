import { assert, describe, layer } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Scope, Stream } from "effect"
import { UpgradeRefused } from "../../domain/errors.ts"
import { PoolConfig } from "../../config.ts"
import { Compute } from "../../providers/compute/Compute.ts"
import { Pool, type PoolEvent } from "../Pool.ts"
import { makePool } from "../PoolLive.ts"
import { makeReplica, Replica } from "../replica.ts"
import { MemoryCloud, PoolTest } from "../testing.ts"

// The rolling upgrade at the pool (issue 20): idle agents restart at once, claimed ones one at a time on their own
// state, each waited for until it answers; the order is read from the UpgradeStep events. A failing agent is
// reported and the rest go on, each agent is tried once, and a second upgrade while one runs is refused.

type Step = Extract<PoolEvent, { _tag: "UpgradeStep" }>

/** A restart keeps an agent away this long (its health does not answer), so overlapping restarts would show. */
const RESTART_TAKES = Duration.millis(300)

const warm = (idle: number, owners: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const pool = yield* Pool
    for (const i of yield* pool.list()) yield* pool.kill(i.id)
    yield* pool.replenish(idle + owners.length)
    yield* pool.tick
    const claimed = []
    for (const owner of owners)
      claimed.push(
        (yield* pool.claim({ key: `k-${owner}-${Math.random()}`, claimedBy: owner, agentName: owner })).instance,
      )
    return { pool, claimed }
  })

/** Every UpgradeStep published while `body` runs, in order. */
const stepsDuring = <A, E, R>(body: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const pool = yield* Pool
    const steps: Array<Step> = []
    const listening = yield* pool.events.pipe(
      Stream.runForEach((e) => Effect.sync(() => e._tag === "UpgradeStep" && steps.push(e))),
      Effect.forkChild,
    )
    yield* Effect.sleep(Duration.millis(50))
    const result = yield* body
    yield* Effect.sleep(Duration.millis(50))
    yield* Fiber.interrupt(listening)
    return { result, steps }
  })

describe("rolling upgrade", () => {
  layer(PoolTest({ cloud: { restartTakes: RESTART_TAKES } }), { timeout: "120 seconds", excludeTestServices: true })(
    (it) => {
      it.effect("idle agents restart at once, then claimed ones one at a time, each on its own state", () =>
        Effect.gen(function* () {
          const { pool, claimed } = yield* warm(3, ["ann", "ben", "cid"])
          const cloud = yield* MemoryCloud
          const { result: report, steps } = yield* stepsDuring(pool.upgrade())
          assert.deepStrictEqual(report.idle, { restarted: 3, failed: 0 })
          assert.deepStrictEqual(report.claimed, { restarted: 3, failed: 0 })
          assert.deepStrictEqual(report.failures, [])

          const idle = steps.filter((s) => !s.claimed)
          const firstIdleBack = idle.findIndex((s) => s.phase === "back")
          // At once: every idle restart began before the first idle one came back.
          assert.strictEqual(idle.slice(0, firstIdleBack).filter((s) => s.phase === "restarting").length, 3)
          // Claimed ones only after the idle ones, and strictly one at a time: restarting, back, restarting, back …
          const firstClaimed = steps.findIndex((s) => s.claimed)
          assert.isTrue(steps.slice(firstClaimed).every((s) => s.claimed))
          assert.deepStrictEqual(
            steps.slice(firstClaimed).map((s) => s.phase),
            ["restarting", "back", "restarting", "back", "restarting", "back"],
          )
          const order = steps.slice(firstClaimed).map((s) => s.instanceId)
          assert.deepStrictEqual(order, [order[0], order[0], order[2], order[2], order[4], order[4]])
          assert.strictEqual(new Set(order).size, 3)

          // Each claimed agent: restarted once, on its state (same provisioned agent and conversation), still claimed.
          for (const c of claimed) {
            const now = yield* pool.get(c.id)
            assert.strictEqual(now.status, "claimed")
            assert.strictEqual(now.conversationId, c.conversationId)
            const inCloud = cloud.instances.get(c.providerRef!)!
            assert.strictEqual(inCloud.restarts, 1)
            assert.strictEqual(inCloud.provisioned!.agentName, c.agentName)
          }
          const counts = yield* pool.counts
          assert.strictEqual(counts.idle, 3)
          assert.strictEqual(counts.claimed, 3)
        }),
      )

      it.effect("one agent failing is reported with its reason, the rest go on, and nobody is retried", () =>
        Effect.gen(function* () {
          const { pool, claimed } = yield* warm(2, ["dee", "eve", "fay"])
          const cloud = yield* MemoryCloud
          const broken = claimed[1]!
          cloud.failRestartsOf(broken.providerRef!, "the new runtime does not start: exit code 1")
          const idleRef = (yield* pool.list({ status: ["idle"] }))[0]!.providerRef!
          cloud.failRestartsOf(idleRef, "the new runtime does not start: exit code 2")
          const restartsBefore = cloud.stats.restarts
          const progress: Array<string> = []
          const report = yield* pool.upgrade((p) => Effect.sync(() => void progress.push(`${p.status}: ${p.message}`)))
          assert.deepStrictEqual(report.idle, { restarted: 1, failed: 1 })
          assert.deepStrictEqual(report.claimed, { restarted: 2, failed: 1 })
          assert.deepStrictEqual(
            report.failures.map((f) => [f.instanceId, f.was, f.reason]),
            [
              [
                (yield* pool.list()).find((i) => i.providerRef === idleRef)!.id,
                "idle",
                "the new runtime does not start: exit code 2",
              ],
              [broken.id, "claimed", "the new runtime does not start: exit code 1"],
            ],
          )
          // One attempt per agent: 5 agents, 5 restarts.
          assert.strictEqual(cloud.stats.restarts - restartsBefore, 5)
          // The claimed one that failed stays claimed with the reason; the others after it were restarted.
          const after = yield* pool.get(broken.id)
          assert.strictEqual(after.status, "claimed")
          assert.match(after.lastError ?? "", /^upgrade: the new runtime does not start/)
          assert.strictEqual(cloud.instances.get(claimed[2]!.providerRef!)!.restarts, 1)
          // The idle one that failed is dead (the tick replaces it); the progress says who failed and why.
          assert.strictEqual((yield* pool.list()).find((i) => i.providerRef === idleRef)!.status, "dead")
          assert.isTrue(progress.some((l) => l.startsWith("fail:") && l.includes("eve") && l.includes("exit code 1")))
          assert.match(progress[progress.length - 1]!, /^fail: upgrade done in .*: 3 restarted, 2 failed$/)
        }),
      )

      it.effect("a second upgrade while one runs is refused with a clear line; after it ends one may start again", () =>
        Effect.gen(function* () {
          const { pool } = yield* warm(1, ["gus", "hal"])
          const first = yield* Effect.forkChild(pool.upgrade())
          yield* Effect.sleep(Duration.millis(100))
          const refused = yield* Effect.flip(pool.upgrade())
          assert.instanceOf(refused, UpgradeRefused)
          assert.strictEqual(refused.reason, "running")
          assert.match(refused.message, /already running/)
          const report = yield* Fiber.join(first)
          assert.strictEqual(report.claimed.restarted, 2)
          const again = yield* pool.upgrade()
          assert.strictEqual(again.idle.restarted + again.claimed.restarted, 3)
        }),
      )

      it.effect("compute that cannot restart agents (Railway): refused, saying so, and nothing is restarted", () =>
        Effect.gen(function* () {
          yield* warm(1, ["ida"])
          const compute = yield* Compute
          const cloud = yield* MemoryCloud
          const scope = yield* Scope.make()
          const { upgrade: _none, restart: _also, ...railwayLike } = compute
          const pool = yield* makePool.pipe(
            Effect.provideService(Compute, Compute.of({ ...railwayLike, name: "railway" })),
            Effect.provideService(PoolConfig, yield* PoolConfig),
            Effect.provideServiceEffect(Replica, makeReplica),
            Scope.provide(scope),
          )
          const before = cloud.stats.restarts
          const refused = yield* Effect.flip(pool.upgrade())
          assert.instanceOf(refused, UpgradeRefused)
          assert.strictEqual(refused.reason, "unsupported")
          assert.match(refused.message, /railway\) cannot restart running agents in place, so nothing was restarted/)
          assert.strictEqual(cloud.stats.restarts, before)
          yield* Scope.close(scope, Exit.void)
        }),
      )
    },
  )
})
