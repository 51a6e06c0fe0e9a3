import { Clock, Config, Duration, Effect, Option } from "effect"
import { SqlClient } from "effect/sql"
import { InvalidConfig, NotConfigured, ProviderError } from "../../domain/errors.ts"
import { MIGRATIONS_TABLE } from "../../db/migrations.ts"
import { AgentResources, type TopUpError, type TopUpResult } from "../AgentResources.ts"
import { type KeyUsage, OpenRouter } from "../openrouter/OpenRouter.ts"

// Small jobs around provider resources for the API, the admin page and the tick.

/** The agent's OpenRouter spend (for /agents and the admin page); null when it has no key or OpenRouter is off. */
export const openRouterUsageOf = (instanceId: string) =>
  Effect.gen(function* () {
    const openRouter = yield* OpenRouter
    if (!openRouter.configured) return null
    const key = (yield* (yield* AgentResources).held(instanceId)).find((r) => r.provider === "openrouter")
    if (!key) return null
    return yield* openRouter
      .usage(key.externalId)
      .pipe(Effect.catchTag("NotConfigured", () => Effect.succeed(null as KeyUsage | null)))
  })

/**
 * Raises an agent's OpenRouter spending cap (API, /admin, ops chat): AgentResources.topUp with the services of the
 * calling runtime; a runtime without AgentResources answers "OpenRouter is not configured".
 */
export const topUpAgent = (
  instanceId: string,
  amountUsd: number,
  by: string,
  idempotencyKey?: string,
): Effect.Effect<TopUpResult, TopUpError> =>
  Effect.flatMap(Effect.serviceOption(AgentResources), (resources) =>
    Option.isNone(resources)
      ? Effect.fail(NotConfigured.create("OpenRouter", "OPENROUTER_MANAGEMENT_KEY"))
      : resources.value.topUp(instanceId, amountUsd, by, idempotencyKey),
  )

/** OPENROUTER_SWEEP_GRACE: how old a key must be before the sweep may delete it, and how old the database. */
export const sweepGraceConfig = Config.Duration("OPENROUTER_SWEEP_GRACE").pipe(
  Config.withDefault(Duration.hours(1)),
  Effect.mapError(
    (e) =>
      new InvalidConfig({
        variable: "OPENROUTER_SWEEP_GRACE",
        message: `OPENROUTER_SWEEP_GRACE must be a duration such as "1 hour" or "30 minutes" (default 1 hour): ${e.message}`,
      }),
  ),
)

const dbError = (cause: unknown) =>
  new ProviderError({
    provider: "database",
    operation: "sweep keys",
    status: null,
    retryable: true,
    message: `listing instances failed: ${String(cause)}`,
  })

/**
 * Deletes this environment's OpenRouter keys whose instance no longer exists in `instances` (keys leaked by a crash
 * between create and record, or by a row removed by hand). Instances being set up are rows too, and keys younger
 * than OPENROUTER_SWEEP_GRACE are left alone, so fresh keys are never touched.
 * A database that knows no instance, or is younger than the grace period, decides nothing: a new or emptied database
 * pointed at a shared management key would otherwise take every key of its environment for an orphan. Keys created
 * before the database was (its first migration) are never its to delete.
 */
export const sweepOrphanKeys = Effect.gen(function* () {
  const openRouter = yield* OpenRouter
  if (!openRouter.configured) return [] as ReadonlyArray<string>
  const sql = yield* SqlClient.SqlClient
  const grace = yield* Effect.orDie(sweepGraceConfig)
  const [facts] = yield* sql<{ born: Date | string | null; instances: number }>`
    SELECT (SELECT min(created_at) FROM ${sql(MIGRATIONS_TABLE)}) AS born, (SELECT count(*)::int FROM instances) AS instances`.pipe(
    Effect.mapError(dbError),
  )
  if (!facts || facts.instances === 0) {
    yield* Effect.logInfo(
      "openrouter: key sweep skipped: the database knows no instance, so it cannot tell an orphan from another deployment's key",
    )
    return [] as ReadonlyArray<string>
  }
  const createdBefore = (yield* Clock.currentTimeMillis) - Duration.toMillis(grace)
  const born = facts.born === null ? Number.NaN : new Date(facts.born).getTime()
  if (!Number.isFinite(born) || born > createdBefore) {
    yield* Effect.logInfo(
      `openrouter: key sweep skipped: the database is younger than OPENROUTER_SWEEP_GRACE (${Duration.format(grace)})`,
    )
    return [] as ReadonlyArray<string>
  }
  const rows = yield* sql<{ id: string }>`SELECT id FROM instances`.pipe(Effect.mapError(dbError))
  return yield* openRouter
    .sweep(new Set(rows.map((r) => r.id)), { createdAfter: born, createdBefore })
    .pipe(Effect.catchTag("NotConfigured", () => Effect.succeed([] as ReadonlyArray<string>)))
})
