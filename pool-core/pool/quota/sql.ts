import { Effect, Option } from "effect"
import type { SqlClient } from "effect/sql"
import { toDatabaseError } from "../repo.ts"

// The quota SQL. A claim over quota must be refused even when two claims of one owner race (two messages, two tabs),
// so the count and the claim are one transaction that first takes a transaction advisory lock per owner key, in a
// fixed order (no deadlock between batches sharing owners). A claim statement that starts after the lock sees every
// claim committed before it (READ COMMITTED takes each statement's snapshot when it starts), so the count it makes
// is exact; the lock ends with the transaction. Key space (73042, hashtext(key)): two-int advisory keys never meet
// the replica locks (one bigint key) and 73041 is the tick's.

export interface QuotaLimits {
  /** Live agents per owner key (0 = no cap). */
  readonly live: number
  /** Claims per hour per hourly owner (0 = no cap). */
  readonly perHour: number
  /** Start of the hour window (from the Clock). */
  readonly since: Date
}

type Sql = SqlClient.SqlClient

/**
 * CTEs for the batch claim (repo.claimIdleBatch) over `req0`, the batch's requests, and the condition that keeps
 * the requests within quota. A request is ranked among the batch's requests of the same owner key, so three
 * requests of one owner in one batch with one slot left let only the first through. (A request refused for one of
 * its keys still takes its rank on its other keys: within one batch that can refuse a claim one slot early, never
 * let one too many through.)
 */
export const quotaFilter = (sql: Sql, q: QuotaLimits) => ({
  ctes: sql`
    pairs AS (
      SELECT req0.n, k.qkey, row_number() OVER (PARTITION BY k.qkey ORDER BY req0.n) AS nth
      FROM req0 CROSS JOIN LATERAL jsonb_array_elements_text(req0.quota_keys) AS k(qkey)
      WHERE NOT req0.hourly AND ${q.live}::int > 0
    ), held AS (
      SELECT q.qkey, (SELECT count(*) FROM instances i WHERE i.status IN ('claiming','claimed') AND q.qkey = ANY(i.quota_keys)) AS n
      FROM (SELECT DISTINCT qkey FROM pairs) q
    ), over_quota AS (
      SELECT p.n FROM pairs p JOIN held h USING (qkey) WHERE h.n + p.nth > ${q.live}::int
      UNION
      SELECT x.n FROM (
        SELECT req0.n, row_number() OVER (PARTITION BY req0.claimed_by ORDER BY req0.n) AS nth,
          (SELECT count(*) FROM claims c WHERE c.claimed_by = req0.claimed_by AND c.created_at > ${q.since.toISOString()}::timestamptz) AS used
        FROM req0 WHERE req0.hourly AND ${q.perHour}::int > 0
      ) x WHERE x.used + x.nth > ${q.perHour}::int
    ),`,
  allowed: sql`req0.n NOT IN (SELECT n FROM over_quota)`,
})

/** Takes the owners' quota locks for the rest of the current transaction, in hash order. */
export const lockOwners = (sql: Sql, keys: ReadonlyArray<string>) =>
  keys.length === 0
    ? Effect.void
    : sql`
        SELECT count(pg_advisory_xact_lock(73042, h))::int AS locked
        FROM (SELECT DISTINCT hashtext(k) AS h FROM jsonb_array_elements_text(${JSON.stringify([...new Set(keys)])}::jsonb) AS t(k) ORDER BY h) s`.pipe(
        Effect.asVoid,
        Effect.mapError(toDatabaseError),
      )

/** What one owner uses now: its largest live count over its keys, and its claims in the hour window. */
export const usageOf = (
  sql: Sql,
  owner: { readonly quotaKeys: ReadonlyArray<string>; readonly hourly: boolean; readonly claimedBy: string },
  since: Date,
) =>
  owner.hourly
    ? sql<{ used: number; oldest: Date | null }>`
        SELECT count(*)::int AS used, min(created_at) AS oldest FROM claims
        WHERE claimed_by = ${owner.claimedBy} AND created_at > ${since.toISOString()}::timestamptz`.pipe(
        Effect.map((rows) => ({
          live: 0,
          hourly: rows[0]?.used ?? 0,
          oldest: Option.fromNullishOr(rows[0]?.oldest ?? null).pipe(Option.map((d) => new Date(d))),
        })),
        Effect.mapError(toDatabaseError),
      )
    : sql<{ held: number }>`
        SELECT coalesce(max(n), 0)::int AS held FROM (
          SELECT (SELECT count(*) FROM instances i WHERE i.status IN ('claiming','claimed') AND k = ANY(i.quota_keys)) AS n
          FROM jsonb_array_elements_text(${JSON.stringify(owner.quotaKeys)}::jsonb) AS t(k)
        ) s`.pipe(
        Effect.map((rows) => ({ live: rows[0]?.held ?? 0, hourly: 0, oldest: Option.none<Date>() })),
        Effect.mapError(toDatabaseError),
      )
