// npm run bench:tick — one reconcile tick over 10,000 instances against a compute layer that answers status in
// batches of at most 500 refs (a larger request fails): seconds per tick, and provider calls per tick as COUNTED by the
// in-memory provider where each request arrives (the batching is the tick's own). 1% of the instances are `starting`
// each tick (their runtimes answer /pool/health ready), so every tick also runs health checks and promotions. Rows are
// inserted directly (this measures the tick, not creation); the in-memory cloud knows every one of them.
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { Pool } from "../pool-core/pool/Pool.ts"
import { MemoryCloud, PoolTest } from "../pool-core/pool/testing.ts"
import { STATUS_BATCH } from "../pool-core/pool/tick.ts"
import { percentile, reportBench } from "./lib.ts"
import { projectDay } from "./tick-projection.ts"

process.env.TEST_DATABASE_URL ??= process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 10_000)
const TICKS = Number(process.env.BENCH_TICKS ?? 5)
const PROVIDER_BATCH = 500

const program = Effect.gen(function* () {
  const pool = yield* Pool
  const cloud = yield* MemoryCloud
  const sql = yield* SqlClient.SqlClient
  // 79% idle, 20% claimed, 1% starting: the mix a busy pool has, with some instances coming up.
  yield* sql`
    INSERT INTO instances (id, status, provider, provider_ref, provider_project_ref, url, token_hash, claimed_by, created_at, last_healthy_at)
    SELECT 'bench-' || g, CASE WHEN g % 5 = 0 THEN 'claimed' WHEN g % 100 = 1 THEN 'starting' ELSE 'idle' END, 'memory', 'mem-bench-' || g,
           'project-' || (g % 10), 'memory://bench-' || g, 'x', CASE WHEN g % 5 = 0 THEN 'person-' || g END, now(), now()
    FROM generate_series(1, ${INSTANCES}) g`
  for (let g = 1; g <= INSTANCES; g++) {
    cloud.instances.set(`mem-bench-${g}`, {
      instanceId: `bench-${g}`,
      ref: `mem-bench-${g}`,
      createdAt: 0,
      state: "running",
      provisioned: null,
      conversationId: null,
      inviteUrl: null,
    })
  }
  const durations: number[] = []
  const measured: number[] = []
  const reported: number[] = []
  const health: number[] = []
  let promoted = 0
  for (let t = 0; t < TICKS; t++) {
    // The starting 1% again (not timed): each tick health-checks and promotes them.
    yield* sql`UPDATE instances SET status = 'starting' WHERE id LIKE 'bench-%' AND status = 'idle' AND substr(id, 7)::int % 100 = 1`
    const calls = cloud.stats.statusCalls
    const checks = cloud.stats.healthCalls
    const started = performance.now()
    const report = yield* pool.tick
    durations.push((performance.now() - started) / 1000)
    if (!report.ran) throw new Error("the tick did not run (lock held?)")
    measured.push(cloud.stats.statusCalls - calls)
    reported.push(report.providerCalls)
    health.push(cloud.stats.healthCalls - checks)
    promoted += report.promoted
  }
  const counts = yield* pool.counts
  durations.sort((a, b) => a - b)
  const worst = durations[durations.length - 1]!
  const maxCalls = Math.max(...measured)
  const minCalls = Math.min(...measured)
  // The starting 1% answer /pool/health ready, like every running instance: the provider is asked about none of them.
  const expected = 0
  const agree = measured.every((m, i) => m === reported[i])
  reportBench(
    "tick",
    [
      {
        measure: `tick duration, median of ${TICKS} (${INSTANCES} instances; Postgres, in-memory compute + runtime)`,
        value: percentile(durations, 50),
        unit: "s",
        target: "≤ 1 s",
        pass: percentile(durations, 50) <= 1,
      },
      {
        measure: "tick duration, worst (Postgres, in-memory compute + runtime)",
        value: worst,
        unit: "s",
        target: "≤ 1 s",
        pass: worst <= 1,
      },
      {
        measure: "provider status calls per tick (counted by the in-memory provider)",
        value: maxCalls,
        unit: "calls",
        target: `= 0 (every runtime answered /pool/health; the provider is asked only about starting or unhealthy ones)`,
        pass: maxCalls === expected && minCalls === expected,
      },
      {
        measure: "provider calls in the tick report = calls counted",
        value: agree ? 1 : 0,
        unit: agree ? "(agree)" : "(differ)",
        target: "agree",
        pass: agree,
      },
      {
        measure: "health checks per tick (every runtime, direct; in-memory runtime)",
        value: Math.max(...health),
        unit: "checks",
        target: `= ${INSTANCES}`,
        pass: health.every((h) => h === INSTANCES),
      },
    ],
    [
      `tick batch size ${STATUS_BATCH} refs; provider calls counted per tick: ${measured.join(", ")}; reported: ${reported.join(", ")}`,
      `${promoted} promotions over ${TICKS} ticks; after the ticks: ${counts.idle} idle, ${counts.claimed} claimed, ${counts.starting} starting, ${counts.dead} dead, ${counts.crashed} crashed`,
    ],
  )
})

await Effect.runPromise(
  program.pipe(
    Effect.provide(PoolTest({ settings: { maxTotal: 1_000_000, minIdle: 0 }, cloud: { batchSize: PROVIDER_BATCH } })),
    Effect.scoped,
  ),
)

// Provider calls per day against RAILWAY_CALLS_PER_DAY, projected from a simulated hour (bench/tick-projection.ts).
const TARGET = 5_000
const projections = await Effect.runPromise(Effect.forEach([100, 1_000], projectDay).pipe(Effect.scoped))
for (const p of projections) {
  console.log(
    `projected provider calls per day at ${p.agents} agents: ${p.perDay} (Railway requests: ${p.statusRequests} status, ${p.creates} creates × 5, ${p.destroys} destroys × 2)`,
  )
}
const at1000 = projections.find((p) => p.agents === 1_000)!
console.log(`target ≤ ${TARGET} a day at 1000 agents: ${at1000.perDay <= TARGET ? "PASS" : "FAIL"} (${at1000.perDay})`)
