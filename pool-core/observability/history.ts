import { Effect, Schema } from "effect"
import type { SqlClient } from "effect/sql"
import { InstanceCounts } from "../domain/instance.ts"
import { toDatabaseError } from "../pool/repo.ts"

// The pool's history for the admin charts (api/routes/adminHistory.tsx): samples the tick writes (counts by state and
// provider requests spent, table pool_samples, migration 1100) and claim latency read from the events audit (from a
// row's `claim` event to its `provisioned` or `provision-failed` one; an instance is claimed at most once).

export const HISTORY_KEEP_DAYS = 7

// Instances by status (InstanceCounts without its total).
const { total: _total, ...byStatus } = InstanceCounts.fields
export const Sample = Schema.Struct({
  at: Schema.Date,
  ...byStatus,
  claimsWaiting: Schema.Int,
  providerCalls: Schema.Int,
  callsPerDay: Schema.Int,
})
export type Sample = typeof Sample.Type

export const LatencyBucket = Schema.Struct({ hour: Schema.Date, p50: Schema.Number, p99: Schema.Number, n: Schema.Int })
export type LatencyBucket = typeof LatencyBucket.Type

export interface History {
  readonly since: Date
  readonly until: Date
  readonly samples: ReadonlyArray<Sample>
  readonly latency: ReadonlyArray<LatencyBucket>
}

const decodeSamples = Schema.decodeUnknownEffect(Schema.Array(Sample))
const decodeLatency = Schema.decodeUnknownEffect(Schema.Array(LatencyBucket))

/** Writes one sample and drops those older than HISTORY_KEEP_DAYS. */
export const recordSample = (
  sql: SqlClient.SqlClient,
  at: Date,
  counts: InstanceCounts,
  claimsWaiting: number,
  providerCalls: number,
  callsPerDay: number,
) =>
  Effect.all(
    [
      sql`INSERT INTO pool_samples (at, starting, idle, claiming, claimed, crashed, dead, draining, claims_waiting, provider_calls, calls_per_day)
        VALUES (${at}, ${counts.starting}, ${counts.idle}, ${counts.claiming}, ${counts.claimed}, ${counts.crashed}, ${counts.dead}, ${counts.draining}, ${claimsWaiting}, ${providerCalls}, ${callsPerDay})`,
      sql`DELETE FROM pool_samples WHERE at < ${new Date(at.getTime() - HISTORY_KEEP_DAYS * 86_400_000)}`,
    ],
    { discard: true },
  ).pipe(Effect.mapError(toDatabaseError))

/** The `hours` before `until`: every sample, and claim latency (seconds, p50/p99) per hour. */
export const readHistory = (sql: SqlClient.SqlClient, until: Date, hours = 24) => {
  const since = new Date(until.getTime() - hours * 3_600_000)
  return Effect.all({
    samples: sql`
      SELECT at, starting, idle, claiming, claimed, crashed, dead, draining, claims_waiting, provider_calls, calls_per_day
      FROM pool_samples WHERE at > ${since} AND at <= ${until} ORDER BY at`.pipe(Effect.flatMap(decodeSamples)),
    latency: sql`
      SELECT date_trunc('hour', done.created_at) AS hour,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM done.created_at - c.created_at))::float8 AS p50,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM done.created_at - c.created_at))::float8 AS p99,
             count(*)::int AS n
      FROM events done JOIN events c ON c.instance_id = done.instance_id AND c.kind = 'claim'
      WHERE done.kind IN ('provisioned', 'provision-failed') AND done.created_at > ${since} AND done.created_at <= ${until}
      GROUP BY 1 ORDER BY 1`.pipe(Effect.flatMap(decodeLatency)),
  }).pipe(
    Effect.map((r): History => ({ since, until, ...r })),
    Effect.mapError(toDatabaseError),
  )
}
