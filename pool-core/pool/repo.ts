import { Context, Effect, Layer, Option, Schema } from "effect"
import { SqlClient } from "effect/sql"
import type { SqlError } from "effect/sql/SqlError"
import { DatabaseError } from "../domain/errors.ts"
import { Instance, type InstanceCounts, InstanceEvent, type InstanceStatus } from "../domain/instance.ts"
import { quotaFilter, type QuotaLimits } from "./quota/sql.ts"

// All SQL of the pool. Every status change is ONE statement guarded by the expected previous status, and writes
// its `events` row in the same statement (data-modifying CTE), so a transition and its audit never diverge.

export const toDatabaseError = (e: SqlError | Schema.SchemaError) =>
  new DatabaseError({ message: `Database operation failed: ${e.message}`, cause: e })

const decodeInstance = Schema.decodeUnknownEffect(Instance)
const decodeInstances = Schema.decodeUnknownEffect(Schema.Array(Instance))
const decodeEvents = Schema.decodeUnknownEffect(Schema.Array(InstanceEvent))

/** Columns a transition may set besides status. */
export interface InstancePatch {
  readonly url?: string | null
  readonly providerRef?: string | null
  readonly providerProjectRef?: string | null
  readonly agentName?: string | null
  readonly instructions?: string | null
  readonly templateSlug?: string | null
  readonly model?: string | null
  readonly conversationId?: string | null
  readonly inviteUrl?: string | null
  readonly joinUrl?: string | null
  readonly claimedBy?: string | null
  readonly lastError?: string | null
  readonly claimedAt?: Date | null
  readonly lastHealthyAt?: Date | null
  readonly unhealthySince?: Date | null
  /** When the current start began (POOL_START_TIMEOUT counts from it): set again when an upgrade restarts an idle one. */
  readonly createdAt?: Date
}

export interface NewInstance {
  readonly id: string
  readonly provider: string
  readonly tokenHash: string
  /** From the pool's Clock: the start timeout counts from it (so TestClock drives it in tests). */
  readonly createdAt: Date
}

export interface ClaimFields {
  readonly key: string
  readonly claimedBy: string
  readonly agentName: string
  readonly instructions: string
  readonly templateSlug: string | null
  /** The agent's own model (its template's); null: the configured one. */
  readonly model?: string | null
  readonly joinUrl: string | null
  /** The replica setting it up (replica.ts); the tick leaves the claim alone while that replica lives. */
  readonly owner: string
  /** Owners this live agent counts against under AGENTS_PER_OWNER (pool/quota): the person, a web visitor's IP. */
  readonly quotaKeys?: ReadonlyArray<string>
  /** Counted per hour under API_CLAIMS_PER_HOUR (by claimedBy) instead of by live agents. */
  readonly hourly?: boolean
}

/** A live row as the tick sees it (includes the provider bookkeeping the domain type leaves out). */
export interface TickRow {
  readonly id: string
  readonly status: InstanceStatus
  readonly providerRef: string | null
  readonly providerProjectRef: string | null
  readonly url: string | null
  readonly agentName: string | null
  readonly claimOwner: string | null
  readonly createdAt: Date
  readonly updatedAt: Date
  readonly lastHealthyAt: Date | null
  readonly unhealthySince: Date | null
}

export const makeInstanceRepo = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  const one = <E>(rows: Effect.Effect<ReadonlyArray<unknown>, E>) =>
    rows.pipe(
      Effect.flatMap((r) => (r.length === 0 ? Effect.succeedNone : Effect.map(decodeInstance(r[0]), Option.some))),
    )

  /** Rows tagged with `request_n` → one Option per request, in request order. */
  const byRequest = (found: ReadonlyArray<unknown>, count: number) =>
    Effect.gen(function* () {
      const out: Array<Option.Option<Instance>> = Array.from({ length: count }, () => Option.none())
      for (const row of found) out[(row as { requestN: number }).requestN] = Option.some(yield* decodeInstance(row))
      return out
    })

  const insertStarting = (row: NewInstance) =>
    one(sql`
      WITH ins AS (
        INSERT INTO instances (id, status, provider, token_hash, created_at) VALUES (${row.id}, 'starting', ${row.provider}, ${row.tokenHash}, ${row.createdAt})
        RETURNING *
      ), ev AS (
        INSERT INTO events (instance_id, from_status, to_status, kind) SELECT id, NULL, 'starting', 'create' FROM ins
      )
      SELECT * FROM ins`).pipe(Effect.map(Option.getOrThrow), Effect.mapError(toDatabaseError))

  /** Guarded transition: only from one of `from`; None when the row is gone or in another state. */
  const transition = (
    id: string,
    from: ReadonlyArray<InstanceStatus>,
    to: InstanceStatus,
    kind: string,
    patch: InstancePatch = {},
    detail: string | null = null,
  ) => {
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined)
    const set = entries.length > 0 ? sql`${sql.update(Object.fromEntries(entries))},` : sql``
    return one(sql`
      WITH old AS (
        SELECT id, status FROM instances WHERE id = ${id} AND status IN ${sql.in(from)} FOR UPDATE
      ), upd AS (
        UPDATE instances i SET ${set} status = ${to}, updated_at = now()
        FROM old WHERE i.id = old.id
        RETURNING i.*, old.status AS from_status
      ), ev AS (
        INSERT INTO events (instance_id, from_status, to_status, kind, detail) SELECT id, from_status, status, ${kind}, ${detail} FROM upd
      )
      SELECT * FROM upd`).pipe(Effect.mapError(toDatabaseError))
  }

  /** Columns that are not a status change (provider ref, health bookkeeping). */
  const update = (id: string, patch: InstancePatch) => {
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined)
    if (entries.length === 0) return Effect.void
    return sql`UPDATE instances SET ${sql.update(Object.fromEntries(entries))}, updated_at = now() WHERE id = ${id}`.pipe(
      Effect.asVoid,
      Effect.mapError(toDatabaseError),
    )
  }

  /**
   * The atomic claim: lock the oldest idle row (SKIP LOCKED, so concurrent claims never wait on each other),
   * move it to `claiming`, and record the idempotency key, all in one statement. A concurrent claim with the
   * same key fails on the claims primary key and the whole statement rolls back.
   */
  const claimIdle = (c: ClaimFields) =>
    one(sql`
      WITH picked AS (
        SELECT id FROM instances WHERE status = 'idle' ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED
      ), upd AS (
        UPDATE instances i SET status = 'claiming', claimed_by = ${c.claimedBy}, agent_name = ${c.agentName},
          instructions = ${c.instructions}, template_slug = ${c.templateSlug}, model = ${c.model ?? null}, join_url = ${c.joinUrl},
          claim_owner = ${c.owner}, quota_keys = ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(c.quotaKeys ?? [])}::jsonb)), updated_at = now()
        FROM picked WHERE i.id = picked.id
        RETURNING i.*
      ), cl AS (
        INSERT INTO claims (key, instance_id, claimed_by) SELECT ${c.key}, id, ${c.claimedBy} FROM upd
      ), ev AS (
        INSERT INTO events (instance_id, from_status, to_status, kind, detail) SELECT id, 'idle', 'claiming', 'claim', ${c.key} FROM upd
      )
      SELECT * FROM upd`).pipe(Effect.mapError(toDatabaseError))

  /**
   * `claimIdle` for many requests in one statement (the claim batcher's group commit). Result i is request i's
   * instance, or None when no idle instance was left for it or its key is already recorded (the caller then
   * replays or reports "no agent"). Keys must be distinct within a batch; a key that a concurrent statement is
   * recording fails the whole statement on the claims primary key, and the caller falls back to single claims.
   */
  const claimIdleBatch = (requests: ReadonlyArray<ClaimFields>, quota?: QuotaLimits) => {
    const rows = JSON.stringify(
      requests.map((c, n) => ({
        n,
        key: c.key,
        claimed_by: c.claimedBy,
        agent_name: c.agentName,
        instructions: c.instructions,
        template_slug: c.templateSlug,
        model: c.model ?? null,
        join_url: c.joinUrl,
        owner: c.owner,
        quota_keys: c.quotaKeys ?? [],
        hourly: c.hourly ?? false,
      })),
    )
    // With quotas, requests over their owner's quota are left out before slots are given (pool/quota/sql.ts); the
    // caller holds the owners' locks, so the counts cannot change under this statement.
    const { ctes, allowed } = quota ? quotaFilter(sql, quota) : { ctes: sql``, allowed: sql`true` }
    // The LIMIT is a literal on purpose: with a computed or bound limit the planner guesses a large row count and
    // joins the UPDATE against a sequential scan of every instance (measured: 3.6 ms of a 4.9 ms statement at 10k rows).
    return sql`
      WITH req0 AS (
        SELECT r.*
        FROM jsonb_to_recordset(${rows}::jsonb) AS r(n int, key text, claimed_by text, agent_name text, instructions text, template_slug text, model text, join_url text, owner text, quota_keys jsonb, hourly boolean)
        WHERE NOT EXISTS (SELECT 1 FROM claims c WHERE c.key = r.key)
      ), ${ctes} req AS (
        SELECT req0.*, row_number() OVER (ORDER BY req0.n) AS slot FROM req0 WHERE ${allowed}
      ), locked AS (
        SELECT id, created_at FROM instances WHERE status = 'idle' ORDER BY created_at, id
        LIMIT ${sql.literal(String(Math.trunc(requests.length)))} FOR UPDATE SKIP LOCKED
      ), picked AS (
        SELECT id, row_number() OVER (ORDER BY created_at, id) AS slot FROM locked
      ), upd AS (
        UPDATE instances i SET status = 'claiming', claimed_by = req.claimed_by, agent_name = req.agent_name,
          instructions = req.instructions, template_slug = req.template_slug, model = req.model, join_url = req.join_url,
          claim_owner = req.owner, quota_keys = ARRAY(SELECT jsonb_array_elements_text(req.quota_keys)), updated_at = now()
        FROM picked JOIN req USING (slot) WHERE i.id = picked.id
        RETURNING i.*, req.n AS request_n, req.key AS request_key
      ), cl AS (
        INSERT INTO claims (key, instance_id, claimed_by) SELECT request_key, id, claimed_by FROM upd
      ), ev AS (
        INSERT INTO events (instance_id, from_status, to_status, kind, detail) SELECT id, 'idle', 'claiming', 'claim', request_key FROM upd
      )
      SELECT * FROM upd`.pipe(
      Effect.flatMap((found) => byRequest(found, requests.length)),
      Effect.mapError(toDatabaseError),
    )
  }

  /** claiming → claimed for many provisioned instances in one statement; None for a row no longer `claiming`. */
  const markClaimedBatch = (
    done: ReadonlyArray<{ readonly id: string; readonly conversationId: string; readonly inviteUrl: string | null }>,
  ) => {
    const rows = JSON.stringify(
      done.map((d, n) => ({ n, id: d.id, conversation_id: d.conversationId, invite_url: d.inviteUrl })),
    )
    return sql`
      WITH req AS (
        SELECT * FROM jsonb_to_recordset(${rows}::jsonb) AS r(n int, id text, conversation_id text, invite_url text)
      ), upd AS (
        UPDATE instances i SET status = 'claimed', conversation_id = req.conversation_id, invite_url = req.invite_url,
          claimed_at = now(), last_error = NULL, updated_at = now()
        FROM req WHERE i.id = req.id AND i.status = 'claiming'
        RETURNING i.*, req.n AS request_n
      ), ev AS (
        INSERT INTO events (instance_id, from_status, to_status, kind) SELECT id, 'claiming', 'claimed', 'provisioned' FROM upd
      )
      SELECT * FROM upd`.pipe(
      Effect.flatMap((found) => byRequest(found, done.length)),
      Effect.mapError(toDatabaseError),
    )
  }

  /** A unique-key violation anywhere in the error's cause chain (sql-pg wraps it as SqlError → UniqueViolation). */
  const isUniqueViolation = (e: DatabaseError) => {
    const seen = new Set<unknown>()
    let current: unknown = e
    while (current && typeof current === "object" && !seen.has(current)) {
      seen.add(current)
      const c = current as { _tag?: unknown; code?: unknown; message?: unknown; reason?: unknown; cause?: unknown }
      if (
        c._tag === "UniqueViolation" ||
        c.code === "23505" ||
        /duplicate key|unique constraint|UniqueViolation/i.test(String(c.message ?? ""))
      )
        return true
      if (c.reason && typeof c.reason === "object" && (c.reason as { _tag?: unknown })._tag === "UniqueViolation")
        return true
      current = c.reason && typeof c.reason === "object" && c.reason !== current ? c.reason : c.cause
    }
    return /UniqueViolation|duplicate key|23505/.test(String(e.cause))
  }

  const findClaim = (key: string) =>
    sql<{ instanceId: string; claimedBy: string }>`SELECT instance_id, claimed_by FROM claims WHERE key = ${key}`.pipe(
      Effect.map((rows) => Option.fromNullishOr(rows[0])),
      Effect.mapError(toDatabaseError),
    )

  const get = (id: string) => one(sql`SELECT * FROM instances WHERE id = ${id}`).pipe(Effect.mapError(toDatabaseError))

  const list = (filter: { status?: ReadonlyArray<InstanceStatus>; claimedBy?: string; limit?: number } = {}) => {
    const clauses = [
      ...(filter.status && filter.status.length > 0 ? [sql`status IN ${sql.in(filter.status)}`] : []),
      ...(filter.claimedBy !== undefined ? [sql`claimed_by = ${filter.claimedBy}`] : []),
    ]
    const where = clauses.length > 0 ? sql`WHERE ${sql.and(clauses)}` : sql``
    return sql`SELECT * FROM instances ${where} ORDER BY created_at, id LIMIT ${filter.limit ?? 1000}`.pipe(
      Effect.flatMap(decodeInstances),
      Effect.mapError(toDatabaseError),
    )
  }

  const counts = sql<{
    status: InstanceStatus
    n: number
  }>`SELECT status, count(*)::int AS n FROM instances GROUP BY status`.pipe(
    Effect.map((rows) => {
      const c: Record<string, number> = {
        starting: 0,
        idle: 0,
        claiming: 0,
        claimed: 0,
        crashed: 0,
        dead: 0,
        draining: 0,
      }
      for (const r of rows) c[r.status] = r.n
      return { ...c, total: rows.reduce((sum, r) => sum + r.n, 0) } as InstanceCounts
    }),
    Effect.mapError(toDatabaseError),
  )

  const tickRows = sql<TickRow>`
    SELECT id, status, provider_ref, provider_project_ref, url, agent_name, claim_owner, created_at, updated_at, last_healthy_at, unhealthy_since
    FROM instances WHERE status IN ('starting','idle','claiming','claimed','dead','draining')`.pipe(
    Effect.mapError(toDatabaseError),
  )

  /** Removes a destroyed instance's row (its events stay as the audit trail). */
  const remove = (id: string, kind: string, detail: string | null) =>
    sql`
      WITH del AS (DELETE FROM instances WHERE id = ${id} RETURNING id, status),
      ev AS (INSERT INTO events (instance_id, from_status, to_status, kind, detail) SELECT id, status, NULL, ${kind}, ${detail} FROM del)
      SELECT id FROM del`.pipe(
      Effect.map((r) => r.length > 0),
      Effect.mapError(toDatabaseError),
    )

  const events = (instanceId: string) =>
    sql`SELECT id::int AS id, instance_id, from_status, to_status, kind, detail, created_at FROM events WHERE instance_id = ${instanceId} ORDER BY id`.pipe(
      Effect.flatMap(decodeEvents),
      Effect.mapError(toDatabaseError),
    )

  /** The latest `limit` audit events, newest first: of every instance, or of one. */
  const recentEvents = (limit: number, instanceId?: string) =>
    (instanceId === undefined
      ? sql`SELECT id::int AS id, instance_id, from_status, to_status, kind, detail, created_at FROM events ORDER BY id DESC LIMIT ${limit}`
      : sql`SELECT id::int AS id, instance_id, from_status, to_status, kind, detail, created_at FROM events WHERE instance_id = ${instanceId} ORDER BY id DESC LIMIT ${limit}`
    ).pipe(Effect.flatMap(decodeEvents), Effect.mapError(toDatabaseError))

  return {
    insertStarting,
    transition,
    update,
    claimIdle,
    claimIdleBatch,
    markClaimedBatch,
    isUniqueViolation,
    findClaim,
    get,
    list,
    counts,
    tickRows,
    remove,
    events,
    recentEvents,
  } as const
})

/** All SQL of the pool as a service; `InstanceRepo.layer` needs the SqlClient (one repo per database). */
export class InstanceRepo extends Context.Service<InstanceRepo, Effect.Success<typeof makeInstanceRepo>>()(
  "pool-core/pool/InstanceRepo",
) {
  static readonly layer = Layer.effect(InstanceRepo, makeInstanceRepo)
}
