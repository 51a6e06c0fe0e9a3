// Provider calls per day, projected from one simulated hour of ticks (bench:tick). The pool runs for real (PoolLive,
// its tick, SQL) over the in-memory compute named "railway", so the tick plans with Railway's request costs; its Clock
// is the wall clock moved forward 10 s after each tick (360 ticks = 1 hour; sleeps stay real). Every call is counted
// where it arrives at the provider and converted to Railway HTTP requests: a create is 5 (project, service, volume,
// domain, patch commit), a destroy 2 (look-up, delete), a status request ⌈refs / 20⌉ (20 projects per aliased query).
// The hour: `agents` running agents (90% claimed, 10% idle) whose runtimes answer /pool/health, and every 10 minutes
// one of them stops answering and its provider says it failed (idle: dead, destroyed and replaced; claimed: crashed).
import { Clock, Duration, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { poolConfigLayer } from "../pool-core/config.ts"
import { TestDatabase } from "../pool-core/db/testing.ts"
import { AgentResourcesNone } from "../pool-core/providers/AgentResources.ts"
import { Pool } from "../pool-core/pool/Pool.ts"
import { makePool } from "../pool-core/pool/PoolLive.ts"
import { ProviderCircuitLive } from "../pool-core/pool/ProviderCircuit.ts"
import { Replica } from "../pool-core/pool/replica.ts"
import { makeShiftedClock } from "../pool-core/pool/test/loopback-cloud.ts"
import { MemoryCloud, memoryCloudLayer } from "../pool-core/pool/testing.ts"

const TICKS = 360
const TICK = Duration.seconds(10)

export interface Projection {
  readonly agents: number
  readonly perDay: number
  readonly creates: number
  readonly destroys: number
  readonly statusRequests: number
}

export const projectDay = (agents: number) =>
  Effect.gen(function* () {
    const time = yield* makeShiftedClock
    const idle = Math.max(1, Math.round(agents / 10))
    const layer = Layer.effect(Pool, makePool).pipe(
      Layer.provideMerge(Layer.merge(ProviderCircuitLive, Replica.layer)),
      Layer.provideMerge(memoryCloudLayer({ name: "railway" })),
      Layer.provideMerge(AgentResourcesNone),
      Layer.provideMerge(
        poolConfigLayer({
          minIdle: idle,
          maxTotal: agents * 2,
          tickInterval: TICK,
          deathGrace: Duration.minutes(3),
          startTimeout: Duration.minutes(5),
          createBackoff: Duration.seconds(30),
          createBackoffMax: Duration.minutes(30),
          providerStatusInterval: Duration.minutes(1),
          providerCallsPerDay: 8_000,
        }),
      ),
    )
    return yield* Effect.gen(function* () {
      const pool = yield* Pool
      const cloud = yield* MemoryCloud
      const sql = yield* SqlClient.SqlClient
      yield* sql`
        INSERT INTO instances (id, status, provider, provider_ref, url, token_hash, claimed_by, created_at, last_healthy_at)
        SELECT 'proj-' || g, CASE WHEN g <= ${idle} THEN 'idle' ELSE 'claimed' END, 'railway', 'mem-proj-' || g, 'memory://proj-' || g, 'x',
               CASE WHEN g <= ${idle} THEN NULL ELSE 'person-' || g END, now(), now()
        FROM generate_series(1, ${agents}) g`
      for (let g = 1; g <= agents; g++) {
        cloud.instances.set(`mem-proj-${g}`, {
          instanceId: `proj-${g}`,
          ref: `mem-proj-${g}`,
          createdAt: 0,
          state: "running",
          provisioned: null,
          conversationId: null,
          inviteUrl: null,
        })
      }
      const start = {
        creates: cloud.stats.creates,
        destroys: cloud.stats.destroys,
        statusCalls: cloud.stats.statusCalls,
      }
      let statusRequests = 0
      let failing = 0
      for (let t = 0; t < TICKS; t++) {
        // Every 10 minutes a runtime dies, alternately an idle one (destroyed and replaced) and a claimed one (crashed).
        if (t % 60 === 30)
          cloud.setState(`mem-proj-${failing % 2 === 0 ? 1 + failing++ : agents - failing++}`, "failed")
        const refs = cloud.stats.statusRefs
        const calls = cloud.stats.statusCalls
        yield* pool.tick
        if (cloud.stats.statusCalls > calls) statusRequests += Math.ceil((cloud.stats.statusRefs - refs) / 20)
        yield* time.advance(TICK)
      }
      const creates = cloud.stats.creates - start.creates
      const destroys = cloud.stats.destroys - start.destroys
      const perHour = creates * 5 + destroys * 2 + statusRequests
      return {
        agents,
        perDay: perHour * 24,
        creates: creates * 24,
        destroys: destroys * 24,
        statusRequests: statusRequests * 24,
      } satisfies Projection
    }).pipe(Effect.provide(layer), Effect.provideService(Clock.Clock, time.clock), Effect.provide(TestDatabase))
  })
