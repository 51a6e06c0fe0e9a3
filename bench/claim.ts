// npm run bench:claim — claims/s, p50/p99 claim latency at 64 concurrent clients against real Postgres,
// and the double-claim count. Each claim is the full Pool.claim (atomic pick + provision on the IN-MEMORY runtime
// + claimed transition), so the figure is what the pool itself can sustain, not a claim against real agents; the
// labels say so.
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { Pool } from "../pool-core/pool/Pool.ts"
import { PoolTest } from "../pool-core/pool/testing.ts"
import { percentileMeasures, reportBench } from "./lib.ts"

process.env.TEST_DATABASE_URL ??= process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 64)
const CLAIMS = Number(process.env.BENCH_CLAIMS ?? 5000)

const program = Effect.gen(function* () {
  const pool = yield* Pool
  const sql = yield* SqlClient.SqlClient
  for (let made = 0; made < CLAIMS; made += 100) yield* pool.replenish(Math.min(100, CLAIMS - made))
  yield* pool.tick
  const idle = (yield* pool.counts).idle
  console.log(`bench:claim: ${idle} idle instances ready, ${CLIENTS} concurrent clients`)

  const latencies: number[] = []
  let next = 0
  let failures = 0
  const started = performance.now()
  const client = (c: number) =>
    Effect.gen(function* () {
      while (next < CLAIMS) {
        const i = next++
        const t0 = performance.now()
        const r = yield* Effect.result(pool.claim({ key: `bench-${i}`, claimedBy: `client-${c}` }))
        latencies.push(performance.now() - t0)
        if (r._tag === "Failure") failures++
      }
    })
  yield* Effect.forEach(
    Array.from({ length: CLIENTS }, (_, c) => c),
    client,
    { concurrency: "unbounded", discard: true },
  )
  const seconds = (performance.now() - started) / 1000

  const [dup] = yield* sql<{ doubles: number; claimed: number }>`
    SELECT (SELECT count(*)::int FROM (SELECT instance_id FROM claims GROUP BY instance_id HAVING count(*) > 1) d) AS doubles,
           (SELECT count(*)::int FROM instances WHERE status = 'claimed') AS claimed`
  const rate = CLAIMS / seconds
  // What was measured: the pool's claim path on real Postgres; compute and the agent runtime are the in-memory ones
  // (a provision answers at once), so this is not the latency of a claim against real agents.
  const where = "Postgres, in-memory compute + runtime"
  const latency = percentileMeasures(latencies, "ms", [
    { p: 50, measure: `claim latency p50 (${where})` },
    { p: 99, measure: `claim latency p99 (${where})`, target: "≤ 20 ms", pass: (v) => v <= 20 },
  ])
  reportBench(
    "claim",
    [
      {
        measure: `claims per second (${CLIENTS} clients; ${where})`,
        value: rate,
        unit: "claims/s",
        target: "≥ 1000",
        pass: rate >= 1000,
      },
      ...latency.measures,
      { measure: "double claims", value: dup!.doubles, unit: "", target: "0", pass: dup!.doubles === 0 },
      { measure: "failed claims", value: failures, unit: "", target: "0", pass: failures === 0 },
    ],
    [
      `${CLAIMS} claims, ${dup!.claimed} instances claimed, ${CLIENTS} clients, real Postgres (${process.env.TEST_DATABASE_URL?.replace(/\/\/[^@]*@/, "//")}); compute and runtime in memory (no real agent is provisioned)`,
      ...latency.notes,
    ],
  )
})

process.env.DB_MAX_CONNECTIONS ??= "40"
await Effect.runPromise(program.pipe(Effect.provide(PoolTest({ settings: { maxTotal: 1_000_000 } })), Effect.scoped))
