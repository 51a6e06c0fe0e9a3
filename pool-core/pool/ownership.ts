import { Clock, Effect, Option } from "effect"
import type { SqlClient } from "effect/sql"
import type { PoolSettings } from "../config.ts"
import { type DatabaseError, InstanceNotFound, InvalidRequest } from "../domain/errors.ts"
import type { Instance } from "../domain/instance.ts"
import { QuotaExceeded } from "../domain/quota.ts"
import type { Compute } from "../providers/compute/Compute.ts"
import type { PoolEvent } from "./Pool.ts"
import { untilAnswering } from "./answering.ts"
import { lockOwners } from "./quota/sql.ts"
import { type InstanceRepo, toDatabaseError } from "./repo.ts"
import type { RuntimeClient } from "./RuntimeClient.ts"

// What an owner does with an agent besides talking to it: give it to someone else (transfer) and start it again
// after a crash (restart). Both are owner-scoped: someone else's agent looks exactly like a missing one.

type Repo = InstanceRepo["Service"]

/** Owner-scoped lookup of a running agent (someone else's: InstanceNotFound; not running: InvalidRequest). */
export type ClaimedOwned = (
  id: string,
  owner: string,
) => Effect.Effect<Instance, InstanceNotFound | InvalidRequest | DatabaseError>

export interface OwnershipDeps {
  readonly sql: SqlClient.SqlClient
  readonly repo: Repo
  readonly settings: PoolSettings
  readonly compute: Compute["Service"]
  readonly runtime: RuntimeClient["Service"]
  readonly token: (id: string) => string
  readonly publish: (e: PoolEvent) => Effect.Effect<void>
  /** Owner-scoped lookup (someone else's agent fails as InstanceNotFound). */
  readonly owned: (id: string, owner: string) => Effect.Effect<Instance, InstanceNotFound | DatabaseError>
}

export const makeOwnership = (deps: OwnershipDeps) => {
  const { sql, repo, settings } = deps

  /**
   * One transaction under the new owner's quota lock (the same lock claims take, so a claim and a transfer racing for
   * the last slot cannot both pass): count what `to` holds, then move the row guarded on `from` still owning it.
   */
  const transfer = (id: string, from: string, to: string) =>
    Effect.gen(function* () {
      if (from === to)
        return yield* new InvalidRequest({ field: "to", message: "That agent is already yours: nothing to transfer." })
      const limit = settings.quotas.agentsPerOwner
      const moved = yield* sql
        .withTransaction(
          Effect.gen(function* () {
            yield* lockOwners(sql, [to])
            if (limit > 0) {
              const [row] = yield* sql<{ held: number }>`
                SELECT count(*)::int AS held FROM instances
                WHERE status IN ('claiming','claimed') AND ${to} = ANY(quota_keys)`
              if ((row?.held ?? 0) >= limit) return yield* Effect.fail(QuotaExceeded.live(limit))
            }
            return yield* sql<{ id: string }>`
              WITH upd AS (
                UPDATE instances SET claimed_by = ${to}, quota_keys = ARRAY[${to}]::text[], updated_at = now()
                WHERE id = ${id} AND claimed_by = ${from} AND status IN ('claimed','crashed')
                RETURNING id, status
              ), ev AS (
                INSERT INTO events (instance_id, from_status, to_status, kind, detail)
                SELECT id, status, status, 'transfer', ${`${from} -> ${to}`} FROM upd
              )
              SELECT id FROM upd`
          }),
        )
        .pipe(Effect.mapError((e) => (e._tag === "SqlError" ? toDatabaseError(e) : e)))
      if (moved.length === 0) return yield* Effect.fail(InstanceNotFound.forId(id))
      return yield* repo.get(id).pipe(Effect.map(Option.getOrThrow))
    })

  /** Waits until the runtime at `url` answers its health as ready, for at most POOL_START_TIMEOUT. */
  const answering = (url: string, id: string) =>
    untilAnswering(
      deps.runtime,
      url,
      deps.token(id),
      settings.startTimeout,
      (within) =>
        `It did not answer within ${within} of the restart (POOL_START_TIMEOUT); it stays crashed. Try /restart once more, or release it and create a new one.`,
    )

  const restart = (id: string, owner: string) =>
    Effect.gen(function* () {
      const i = yield* deps.owned(id, owner)
      if (i.status !== "crashed")
        return yield* new InvalidRequest({
          field: "agent",
          message:
            i.status === "claimed"
              ? "It is running, not crashed: there is nothing to restart."
              : `It is ${i.status}; only a crashed agent can be restarted.`,
        })
      const restartOf = deps.compute.restart
      if (!restartOf || !i.providerRef)
        return yield* new InvalidRequest({
          field: "agent",
          message: `This deployment's compute (${deps.compute.name}) cannot restart an agent; release it and create a new one.`,
        })
      const handle = yield* restartOf(i.providerRef)
      const url = handle.url ?? i.url
      if (url !== i.url) yield* repo.update(id, { url })
      if (!url)
        return yield* new InvalidRequest({ field: "agent", message: "It has no address after the restart; try again." })
      yield* answering(url, id).pipe(
        Effect.tapError((e) => repo.update(id, { lastError: `restart: ${e.message}` }).pipe(Effect.ignore)),
      )
      const now = yield* Clock.currentTimeMillis
      const back = yield* repo.transition(
        id,
        ["crashed"],
        "claimed",
        "restart",
        { lastError: null, unhealthySince: null, lastHealthyAt: new Date(now) },
        `restarted by its owner`,
      )
      if (Option.isNone(back)) return yield* Effect.fail(InstanceNotFound.forId(id))
      yield* deps.publish({ _tag: "InstanceRecovered", instanceId: id, agentName: back.value.agentName })
      return back.value
    })

  return { transfer, restart } as const
}
