import { Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import { ProviderError } from "../../domain/errors.ts"
import type { OnProgress } from "../../pool/Pool.ts"
import { AgentResources, AgentResourcesNone, type HeldResource } from "../AgentResources.ts"
import { OpenRouter } from "../openrouter/OpenRouter.ts"
import { resourceProviderLayers, resourceProviders } from "./registry.ts"
import type { ResourceProvider } from "./ResourceProvider.ts"
import { makeTopUp } from "./topUp.ts"

// Per-agent resources from every configured provider (resources/registry.ts, in its order). Each resource is recorded
// in `instance_resources` right after it is taken and before acquire returns, so any release path finds it (a
// provider keeping its own record, the wallet, says so). Release deletes one row at a time with DELETE … RETURNING: of
// two concurrent releases only one gets the row and calls the provider (exactly once); if the provider call fails the
// row is put back so a later release retries it.

type Provider = HeldResource["provider"]

const dbError = (operation: string) => (cause: unknown) =>
  new ProviderError({
    provider: "database",
    operation,
    status: null,
    retryable: true,
    message: `resources ${operation}: database error: ${String(cause)}`,
  })

/** AgentResources over these providers (in acquire order); topUp and webSearch go through OpenRouter. */
export const makeAgentResources = (providers: ReadonlyArray<ResourceProvider>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const openRouter = yield* OpenRouter

    const record = (instanceId: string, provider: Provider, externalId: string) =>
      sql`INSERT INTO instance_resources (instance_id, provider, external_id) VALUES (${instanceId}, ${provider}, ${externalId})
          ON CONFLICT (instance_id, provider) DO UPDATE SET external_id = EXCLUDED.external_id`.pipe(
        Effect.asVoid,
        Effect.mapError(dbError("record resource")),
      )

    const recordError = (instanceId: string, provider: string, operation: string, message: string) =>
      sql`INSERT INTO resource_errors (instance_id, provider, operation, message) VALUES (${instanceId}, ${provider}, ${operation}, ${message})`.pipe(
        Effect.asVoid,
        Effect.catch((e) => Effect.logWarning(`resources: could not record an error for ${instanceId}: ${String(e)}`)),
      )

    /** Rows of a provider no module claims (bankr: from before agent_wallets, its key lived in the runtime's env). */
    const freeAtProvider = (instanceId: string, r: HeldResource) => {
      const provider = providers.find((p) => p.name === r.provider)
      return provider ? provider.free(instanceId, r.externalId) : Effect.void
    }

    const releaseOne = (instanceId: string, provider: Provider) =>
      Effect.gen(function* () {
        const rows = yield* sql<{ externalId: string }>`
          DELETE FROM instance_resources WHERE instance_id = ${instanceId} AND provider = ${provider} RETURNING external_id`.pipe(
          Effect.mapError(dbError("release resource")),
        )
        const row = rows[0]
        if (!row) return // someone else released it
        yield* freeAtProvider(instanceId, { provider, externalId: row.externalId }).pipe(
          Effect.tapError((e) =>
            Effect.andThen(
              recordError(instanceId, provider, "release", e.message),
              record(instanceId, provider, row.externalId).pipe(Effect.ignore),
            ),
          ),
        )
      })

    const recorded = (instanceId: string) =>
      sql<{ provider: Provider; externalId: string }>`
        SELECT provider, external_id FROM instance_resources WHERE instance_id = ${instanceId} ORDER BY created_at`.pipe(
        Effect.map((rows) => rows.map((r): HeldResource => ({ provider: r.provider, externalId: r.externalId }))),
        Effect.mapError(dbError("list resources")),
      )

    const held = (instanceId: string) =>
      Effect.all([
        recorded(instanceId),
        Effect.forEach(providers, (p) =>
          p.heldBy
            ? Effect.map(
                p.heldBy(instanceId),
                Option.map((externalId): HeldResource => ({ provider: p.name, externalId })),
              )
            : Effect.succeedNone,
        ),
      ]).pipe(Effect.map(([rows, own]): ReadonlyArray<HeldResource> => [...rows, ...own.flatMap(Option.toArray)]))

    const release = (instanceId: string) =>
      Effect.gen(function* () {
        const rows = yield* recorded(instanceId)
        const named = new Set<Provider>([...rows.map((r) => r.provider)])
        const results = yield* Effect.forEach([...named], (p) => Effect.result(releaseOne(instanceId, p)), {
          concurrency: "unbounded",
        })
        // Then each provider's release by instance, in order (the Telnyx number without a row; the wallet, which goes
        // only here, with the agent's other resources, never on a destroy of its compute alone).
        for (const p of providers) {
          if (!p.releaseInstance) continue
          const released = yield* Effect.result(
            p
              .releaseInstance(instanceId)
              .pipe(Effect.tapError((e) => recordError(instanceId, p.name, "release", e.message))),
          )
          if (released._tag === "Failure") results.push(released)
        }
        const failures = results.flatMap((r) => (r._tag === "Failure" ? [r.failure] : []))
        if (failures.length > 0) {
          return yield* new ProviderError({
            provider: failures
              .map((f) => (f._tag === "ProviderError" ? f.provider : f.provider.toLowerCase()))
              .join(","),
            operation: "release",
            status: null,
            retryable: true,
            message: `Some resources of ${instanceId} could not be released (${failures.map((f) => f.message).join("; ")}); they stay recorded and the next release retries them.`,
          })
        }
      })

    const acquire = (instanceId: string, onProgress?: OnProgress) => {
      const progress = (step: string, status: "active" | "ok" | "fail" | "skip", message: string) =>
        onProgress ? onProgress({ step, status, message, instanceId }) : Effect.void
      const env: Record<string, string> = {}
      const resources: Array<HeldResource> = []

      /** Takes one resource from a configured provider, records it (unless the provider keeps its own record). */
      const step = (p: ResourceProvider) =>
        Effect.gen(function* () {
          if (!p.configured) return yield* progress(p.name, "skip", p.notConfigured ?? `${p.name} is not configured`)
          yield* progress(p.name, "active", p.taking ?? `taking a ${p.name} resource`)
          // Taking and recording go together: a claim timeout (an interruption) that fell between them would leave
          // something the provider made that no release knows of. Bounded by the provider calls' own timeouts.
          const taken =
            p.record === "own"
              ? yield* p.take(instanceId)
              : yield* Effect.uninterruptible(
                  Effect.gen(function* () {
                    const made = yield* p.take(instanceId)
                    yield* record(instanceId, p.name, made.externalId)
                    return made
                  }),
                )
          resources.push({ provider: p.name, externalId: taken.externalId })
          Object.assign(env, taken.env)
          yield* progress(p.name, "ok", `${p.name}: ${taken.externalId}`)
        }).pipe(
          Effect.tapError((e) =>
            Effect.andThen(progress(p.name, "fail", e.message), recordError(instanceId, p.name, "acquire", e.message)),
          ),
        )

      // Only the agent's own OpenRouter key (capped per agent) goes to the agent. Inbox, number and wallet stay with
      // the pool: the agent uses them through /api/agent-services with its instance token, so no org key
      // (TELNYX_API_KEY, the AgentMail key, BANKR_PARTNER_KEY) ever reaches an agent.
      return Effect.forEach(providers, step, { discard: true }).pipe(
        Effect.map(() => ({ resources: [...resources], env: { ...env } })),
        // Halfway failure: give back what was taken (the provider that failed took nothing, or its create is
        // idempotent/swept), then fail with the original error.
        Effect.tapError(() =>
          release(instanceId).pipe(Effect.catch((e) => recordError(instanceId, "resources", "rollback", e.message))),
        ),
      )
    }

    // Top-ups: one at a time per agent across replicas, journalled under their idempotency key (topUp.ts).
    const topUp = yield* makeTopUp({ openRouter, held, recordError })

    return AgentResources.of({ webSearch: openRouter.configured, acquire, release, held, topUp })
  })

/** AgentResources over every registered provider (resources/registry.ts); needs their services and SqlClient. */
export const AgentResourcesLive = Layer.effect(
  AgentResources,
  Effect.flatMap(Effect.all(resourceProviders), makeAgentResources),
)

/**
 * Every provider from env; live AgentResources when at least one is configured, else AgentResourcesNone. Also
 * provides the OpenRouter service it built, so spend lookups (admin API/page, the bot's /agents) read the keys
 * through the same client that created them.
 */
export const agentResourcesLayerFromEnv = Layer.unwrap(
  Effect.gen(function* () {
    const ctx = yield* Layer.build(resourceProviderLayers)
    const providers = yield* Effect.all(resourceProviders).pipe(Effect.provideContext(ctx))
    const any = providers.some((p) => p.configured)
    const resources = any ? AgentResourcesLive.pipe(Layer.provide(Layer.succeedContext(ctx))) : AgentResourcesNone
    // The provider services too: spend lookups read keys through the OpenRouter client that made them, and the
    // agent service API (providers/services) sends through the same AgentMail/Telnyx clients and wallets.
    return Layer.mergeAll(resources, Layer.succeedContext(ctx))
  }),
)
