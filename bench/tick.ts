// npm run bench:tick — one reconcile tick over 10,000 instances against a compute layer that answers status in
// batches of 500: seconds per tick and provider calls per tick. Rows are inserted directly (this measures the tick,
// not creation); the in-memory cloud knows every one of them.
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { Pool } from "../pool-core/pool/Pool.ts"
import { MemoryCloud, PoolTest } from "../pool-core/pool/testing.ts"
import { percentile, reportBench } from "./lib.ts"

process.env.TEST_DATABASE_URL ??= process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 10_000)
const TICKS = Number(process.env.BENCH_TICKS ?? 5)

const program = Effect.gen(function* () {
  const pool = yield* Pool
  const cloud = yield* MemoryCloud
  const sql = yield* SqlClient.SqlClient
  // 80% idle, 20% claimed: the mix a busy pool has.
  yield* sql`
    INSERT INTO instances (id, status, provider, provider_ref, provider_project_ref, url, token_hash, claimed_by, created_at, last_healthy_at)
    SELECT 'bench-' || g, CASE WHEN g % 5 = 0 THEN 'claimed' ELSE 'idle' END, 'memory', 'mem-bench-' || g, 'project-' || (g % 10),
           'memory://bench-' || g, 'x', CASE WHEN g % 5 = 0 THEN 'person-' || g END, now(), now()
    FROM generate_series(1, ${INSTANCES}) g`
  for (let g = 1; g <= INSTANCES; g++) {
    cloud.instances.set(`mem-bench-${g}`, {
      instanceId: `bench-${g}`, ref: `mem-bench-${g}`, createdAt: 0, state: "running", provisioned: null, conversationId: null, inviteUrl: null,
    })
  }
  const durations: number[] = []
  const calls: number[] = []
  for (let t = 0; t < TICKS; t++) {
    const before = cloud.stats.statusCalls
    const started = performance.now()
    const report = yield* pool.tick
    durations.push((performance.now() - started) / 1000)
    calls.push(cloud.stats.statusCalls - before)
    if (!report.ran) throw new Error("the tick did not run (lock held?)")
  }
  const counts = yield* pool.counts
  durations.sort((a, b) => a - b)
  const worst = durations[durations.length - 1]!
  reportBench(
    "tick",
    [
      { measure: `tick duration, median of ${TICKS} (${INSTANCES} instances)`, value: percentile(durations, 50), unit: "s", target: "≤ 1 s", pass: percentile(durations, 50) <= 1 },
      { measure: "tick duration, worst", value: worst, unit: "s", target: "≤ 1 s", pass: worst <= 1 },
      { measure: "provider calls per tick", value: Math.max(...calls), unit: "calls", target: `≤ ${Math.ceil(INSTANCES / 500)} (batches of 500)`, pass: Math.max(...calls) <= Math.ceil(INSTANCES / 500) },
    ],
    [`after the ticks: ${counts.idle} idle, ${counts.claimed} claimed, ${counts.dead} dead, ${counts.crashed} crashed (nothing should change state)`]
  )
})

await Effect.runPromise(program.pipe(Effect.provide(PoolTest({ settings: { maxTotal: 1_000_000, minIdle: 0 }, cloud: { batchSize: 500 } })), Effect.scoped))
