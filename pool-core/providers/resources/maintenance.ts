import { Effect, Option } from "effect"
import { SqlClient } from "effect/sql"
import { NotConfigured, ProviderError } from "../../domain/errors.ts"
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
    return yield* openRouter.usage(key.externalId).pipe(Effect.catchTag("NotConfigured", () => Effect.succeed(null as KeyUsage | null)))
  })

/**
 * Raises an agent's OpenRouter spending cap (API, /admin, ops chat): AgentResources.topUp with the services of the
 * calling runtime; a runtime without AgentResources answers "OpenRouter is not configured".
 */
export const topUpAgent = (instanceId: string, amountUsd: number, by: string): Effect.Effect<TopUpResult, TopUpError> =>
  Effect.flatMap(Effect.serviceOption(AgentResources), (resources) =>
    Option.isNone(resources) ? Effect.fail(NotConfigured.create("OpenRouter", "OPENROUTER_MANAGEMENT_KEY")) : resources.value.topUp(instanceId, amountUsd, by)
  )

/**
 * Deletes OpenRouter keys whose instance no longer exists in `instances` (keys leaked by a crash between create and
 * record, or by a row removed by hand). Instances being set up are rows too, so their fresh keys are never touched.
 */
export const sweepOrphanKeys = Effect.gen(function* () {
  const openRouter = yield* OpenRouter
  if (!openRouter.configured) return [] as ReadonlyArray<string>
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ id: string }>`SELECT id FROM instances`.pipe(
    Effect.mapError((cause) => new ProviderError({ provider: "database", operation: "sweep keys", status: null, retryable: true, message: `listing instances failed: ${String(cause)}` }))
  )
  return yield* openRouter.sweep(new Set(rows.map((r) => r.id))).pipe(Effect.catchTag("NotConfigured", () => Effect.succeed([] as ReadonlyArray<string>)))
})
