import { Clock, Duration, Effect, Option } from "effect"
import type { SqlClient } from "effect/sql"
import type { DatabaseError } from "../../domain/errors.ts"
import type { Instance } from "../../domain/instance.ts"
import { toDatabaseError } from "../repo.ts"
import type { QuotaSettings } from "./settings.ts"

// Web-launched agents are anonymous, so they do not live forever: WEB_AGENT_TTL after its claim the pool releases
// one (the same release as the owner's /release: provider resources, compute, row), recorded as `expire` events.
// Runs after each reconcile tick, on the replica that holds the tick lock.

export interface WebExpiryDeps {
  readonly sql: SqlClient.SqlClient
  readonly quotas: QuotaSettings
  /** Moves the instance to draining (guarded by `from`) and destroys it, with events of `kind`. */
  readonly drainAndDestroy: (
    id: string,
    from: ReadonlyArray<Instance["status"]>,
    kind: string,
  ) => Effect.Effect<Option.Option<Instance>, DatabaseError>
}

/** Releases the web-launched agents claimed more than WEB_AGENT_TTL ago; returns how many it released. */
export const expireWebAgents = (deps: WebExpiryDeps): Effect.Effect<number, DatabaseError> =>
  Effect.gen(function* () {
    const ttl = Duration.toMillis(deps.quotas.webAgentTtl)
    if (ttl <= 0) return 0
    const cutoff = new Date((yield* Clock.currentTimeMillis) - ttl)
    const due = yield* deps.sql<{ id: string }>`
      SELECT id FROM instances
      WHERE status IN ('claimed','crashed') AND claimed_by LIKE 'web:%' AND claimed_at IS NOT NULL AND claimed_at < ${cutoff.toISOString()}::timestamptz
      ORDER BY claimed_at LIMIT 100`.pipe(Effect.mapError(toDatabaseError))
    const released = yield* Effect.forEach(due, (r) => deps.drainAndDestroy(r.id, ["claimed", "crashed"], "expire"), {
      concurrency: 5,
    })
    return released.filter(Option.isSome).length
  })
