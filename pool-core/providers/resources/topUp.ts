import { randomUUID } from "node:crypto"
import { PgClient, PgConnection } from "@effect/sql-pg"
import { Effect, Option } from "effect"
import { SqlClient } from "effect/sql"
import {
  InstanceNotFound,
  InvalidRequest,
  NotConfigured,
  ProviderError,
  ResourceConflict,
} from "../../domain/errors.ts"
import { ReplicasHere } from "../../pool/ReplicasHere.ts"
import type { HeldResource, TopUpError, TopUpResult } from "../AgentResources.ts"
import { checkTopUpAmount, type OpenRouter } from "../openrouter/OpenRouter.ts"

// Raising an agent's OpenRouter cap is read-then-set (OpenRouter has no "add to limit"), so two top-ups at once lose
// one. Top-ups of one agent therefore run one at a time across every replica: a session advisory lock keyed by the
// instance, on a connection of its own (outside the pool, so DB_MAX_CONNECTIONS=1 cannot deadlock), plus this
// process's lock for PGlite, where advisory locks are re-entrant (ReplicasHere).
//
// Each top-up is journalled under its idempotency key (migration 1000): `pending` with the limits before the PATCH,
// `applied` after. The same key again returns the recorded result and sends nothing. A `pending` row (a crash or a
// timeout between the two) is settled by the next top-up of that agent, under the lock: OpenRouter's limit equal to
// the row's target means it went through (applied); anything else means it did not (the row goes, so a retry with the
// key applies it once).

const lockKey = (instanceId: string) => `convos-topup:${instanceId}`

const dbError = (cause: unknown) =>
  new ProviderError({
    provider: "database",
    operation: "top up",
    status: null,
    retryable: true,
    message: `top-up journal: database error: ${String(cause)}`,
  })

interface Journalled {
  readonly instanceId: string
  readonly amountUsd: number
  readonly limitUsd: number
  readonly state: "pending" | "applied"
}

export interface TopUpDeps {
  readonly openRouter: OpenRouter["Service"]
  readonly held: (instanceId: string) => Effect.Effect<ReadonlyArray<HeldResource>, ProviderError>
  readonly recordError: (
    instanceId: string,
    provider: string,
    operation: string,
    message: string,
  ) => Effect.Effect<void>
}

export const makeTopUp = (deps: TopUpDeps) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const here = yield* ReplicasHere
    const pg = yield* Effect.serviceOption(PgClient.PgClient)
    const { openRouter } = deps

    /** `body` while this replica holds the agent's top-up lock (waits for another replica's top-up to end). */
    const serialized = <A, E>(instanceId: string, body: Effect.Effect<A, E>) =>
      here.withLock(
        lockKey(instanceId),
        Option.match(pg, {
          onNone: () => body,
          onSome: (client) =>
            Effect.scoped(
              Effect.gen(function* () {
                // The session ends with the scope (or the process): Postgres frees the lock then.
                const conn = yield* PgConnection.make(client.config).pipe(Effect.mapError(dbError))
                yield* conn
                  .queryValues("SELECT pg_advisory_lock(hashtextextended($1, 0))", [lockKey(instanceId)], false)
                  .pipe(Effect.mapError(dbError))
                return yield* body
              }),
            ),
        }),
      )

    const journalled = (key: string) =>
      sql<Journalled>`SELECT instance_id, amount_usd, limit_usd, state FROM topups WHERE idempotency_key = ${key}`.pipe(
        Effect.map((rows) => Option.fromNullishOr(rows[0])),
        Effect.mapError(dbError),
      )

    /** Settles the agent's top-ups a crash or timeout left pending (see above). */
    const settle = (instanceId: string, hash: string) =>
      Effect.gen(function* () {
        const pending = yield* sql<{ idempotencyKey: string; limitUsd: number }>`
          SELECT idempotency_key, limit_usd FROM topups WHERE instance_id = ${instanceId} AND state = 'pending'`.pipe(
          Effect.mapError(dbError),
        )
        if (pending.length === 0) return
        const { limit } = yield* openRouter.usage(hash)
        for (const p of pending) {
          yield* (
            limit === p.limitUsd
              ? sql`UPDATE topups SET state = 'applied', applied_at = now() WHERE idempotency_key = ${p.idempotencyKey}`
              : sql`DELETE FROM topups WHERE idempotency_key = ${p.idempotencyKey}`
          ).pipe(Effect.mapError(dbError))
        }
      })

    return (
      instanceId: string,
      amountUsd: number,
      by = "api",
      idempotencyKey?: string,
    ): Effect.Effect<TopUpResult, TopUpError> =>
      Effect.gen(function* () {
        // Every check that can fail is made before OpenRouter is called.
        const amount = yield* checkTopUpAmount(amountUsd, openRouter.topUpMax)
        const rows = yield* sql<{ status: string }>`SELECT status FROM instances WHERE id = ${instanceId}`.pipe(
          Effect.mapError(dbError),
        )
        const instance = rows[0]
        if (!instance) return yield* InstanceNotFound.forId(instanceId)
        if (!openRouter.configured) return yield* NotConfigured.create("OpenRouter", "OPENROUTER_MANAGEMENT_KEY")
        const held = (yield* deps.held(instanceId)).find((r) => r.provider === "openrouter")
        if (!held) {
          return yield* new ResourceConflict({
            instanceId,
            provider: "openrouter",
            message: `Instance ${instanceId} has no OpenRouter key (agents get one when they are claimed), so it has no spending cap to raise.`,
          })
        }
        const hash = held.externalId
        const key = idempotencyKey ?? `auto:${randomUUID()}`
        const who = by.replace(/[^\w:.@-]/g, "").slice(0, 100) || "unknown"
        return yield* serialized(
          instanceId,
          Effect.gen(function* () {
            yield* settle(instanceId, hash)
            const earlier = yield* journalled(key)
            if (Option.isSome(earlier)) {
              const e = earlier.value
              if (e.instanceId !== instanceId || e.amountUsd !== amount) {
                return yield* new InvalidRequest({
                  field: "Idempotency-Key",
                  message: `Idempotency-Key "${key.slice(0, 60)}" was already used for a top-up of ${e.amountUsd} USD on ${e.instanceId}; use a new key for a new top-up.`,
                })
              }
              return { instanceId, amountUsd: amount, limitUsd: e.limitUsd, replayed: true }
            }
            const plan = yield* openRouter.planTopUp(hash, amount)
            yield* sql`INSERT INTO topups (idempotency_key, instance_id, amount_usd, before_usd, limit_usd, requested_by, state)
                       VALUES (${key}, ${instanceId}, ${amount}, ${plan.before}, ${plan.limit}, ${who}, 'pending')`.pipe(
              Effect.mapError(dbError),
            )
            // On failure the row stays pending: the next top-up of this agent (or this key again) settles it.
            yield* openRouter
              .setLimit(hash, plan.limit)
              .pipe(Effect.tapError((e) => deps.recordError(instanceId, "openrouter", "topup", e.message)))
            // The cap is raised: a failure to record it now must not invite a second top-up, so it is logged only.
            const detail = `amountUsd=${amount} limitUsd=${plan.limit} by=${who}`
            yield* sql`UPDATE topups SET state = 'applied', applied_at = now() WHERE idempotency_key = ${key}`.pipe(
              Effect.andThen(
                sql`INSERT INTO events (instance_id, from_status, to_status, kind, detail) VALUES (${instanceId}, ${instance.status}, ${instance.status}, 'topup', ${detail})`,
              ),
              Effect.catch((e) =>
                Effect.logError(
                  `resources: top-up of ${instanceId} done (${detail}) but it could not be recorded: ${String(e)}`,
                ),
              ),
            )
            return { instanceId, amountUsd: amount, limitUsd: plan.limit, replayed: false }
          }),
        )
      })
  })
