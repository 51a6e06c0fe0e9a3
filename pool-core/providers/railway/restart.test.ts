import { assert, describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer } from "effect"
import { poolConfigLayer } from "../../config.ts"
import { TestDatabase } from "../../db/testing.ts"
import { Pool } from "../../pool/Pool.ts"
import { PoolLive } from "../../pool/PoolLive.ts"
import { memoryCloudLayer } from "../../pool/testing.ts"
import { AgentResourcesNone } from "../AgentResources.ts"
import { fakeApi } from "../http/testing.ts"
import { railwayComputeLive } from "./RailwayCompute.ts"
import { railwayApi } from "./testing/fake.ts"
import { expectNothingRefused, testSettings } from "./testing/harness.ts"

// Stop is not destroy, on Railway: a manager that stops (Ctrl-C, a crash, a redeploy) and starts again over the same
// database sends Railway nothing but reads. Its services, volumes and variables stay as they were; the restarted
// pool's tick only asks for their status. (Railway compute has no shutdown path; this keeps it that way.)

const isMutation = (body: unknown) => /^\s*mutation\b/.test((body as { query?: string } | undefined)?.query ?? "")

describe("manager restart on Railway", () => {
  it.live(
    "the pool stops and starts again with its tick: no mutation reaches Railway, every service is still there",
    () =>
      Effect.gen(function* () {
        const fake = railwayApi({ projectCreateWindowMs: 0 })
        const api = yield* fakeApi((r) => fake.handle(r))
        const database = yield* Layer.build(TestDatabase) // outlives both runs of the pool, as Postgres does
        const pool = PoolLive.pipe(
          Layer.provide(railwayComputeLive(testSettings(api.url))),
          Layer.provideMerge(memoryCloudLayer()),
          Layer.provideMerge(AgentResourcesNone),
          Layer.provideMerge(
            poolConfigLayer({ runTick: true, minIdle: 2, maxTotal: 2, tickInterval: Duration.millis(100) }),
          ),
          Layer.provideMerge(Layer.succeedContext(database)),
        )
        /** One run of the manager's pool: built, used, then its scope closes (a stop). */
        const run = <A, E>(use: (p: Pool["Service"]) => Effect.Effect<A, E>) =>
          Effect.scoped(Effect.flatMap(Layer.build(pool), (context) => use(Context.get(context, Pool))))

        // First run: the tick tops the pool up to two agents on Railway.
        const created = yield* run((p) =>
          Effect.gen(function* () {
            const made = () => p.list().pipe(Effect.map((all) => all.filter((i) => i.providerRef !== null).length))
            for (let i = 0; i < 100 && (yield* made()) < 2; i++) yield* Effect.sleep(Duration.millis(100))
            return yield* p.list()
          }),
        )
        assert.lengthOf(created, 2)
        const services = [...fake.services.keys()].sort()
        assert.lengthOf(services, 2)
        const sentBeforeStop = api.requests.length
        assert.isTrue(
          api.requests.some((r) => isMutation(r.body)),
          "the first run did create services (the check below can fail)",
        )

        // Stopped (above) and started again: the restarted pool ticks a few times over the same rows.
        const after = yield* run((p) =>
          Effect.gen(function* () {
            yield* Effect.sleep(Duration.millis(600))
            yield* p.tick
            return yield* p.list()
          }),
        )
        const sentSince = api.requests.slice(sentBeforeStop)
        assert.isAbove(sentSince.length, 0, "the restarted pool asked Railway for status")
        expect(
          sentSince.filter((r) => isMutation(r.body)).map((r) => (r.body as { query: string }).query.slice(0, 80)),
        ).toEqual([])
        assert.deepStrictEqual([...fake.services.keys()].sort(), services)
        // The same instances on the same services, still starting (their health is not reachable in this test).
        assert.deepStrictEqual(
          after.map((i) => `${i.id} ${i.providerRef} ${i.status}`).sort(),
          created.map((i) => `${i.id} ${i.providerRef} starting`).sort(),
        )
        expectNothingRefused(fake)
      }).pipe(Effect.scoped),
    60_000,
  )
})
