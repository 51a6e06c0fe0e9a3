import { Context, Effect, Layer, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { NotConfigured, ProviderError } from "../../domain/errors.ts"
import type { OnProgress } from "../../pool/Pool.ts"
import { AgentMail, agentMailLayerFromEnv } from "../agentmail/AgentMail.ts"
import { AgentResources, AgentResourcesNone, type HeldResource } from "../AgentResources.ts"
import { OpenRouter, openRouterLayerFromEnv } from "../openrouter/OpenRouter.ts"
import { Telnyx, telnyxLayerFromEnv } from "../telnyx/Telnyx.ts"
import { AgentWallets, agentWalletsLayerFromEnv } from "../wallet/AgentWallets.ts"
import { makeTopUp } from "./topUp.ts"

// Per-agent resources from every configured provider. Order: Telnyx first (most contention: fail before spending
// anything else), then OpenRouter, AgentMail, the wallet (agent_wallets, providers/wallet). Each resource is recorded in `instance_resources` right after
// it is taken and before acquire returns, so any release path finds it. Release deletes one row at a time with
// DELETE … RETURNING: of two concurrent releases only one gets the row and calls the provider (exactly once); if
// the provider call fails the row is put back so a later release retries it.

type Provider = HeldResource["provider"]

const dbError = (operation: string) => (cause: unknown) =>
  new ProviderError({
    provider: "database",
    operation,
    status: null,
    retryable: true,
    message: `resources ${operation}: database error: ${String(cause)}`,
  })

export const AgentResourcesLive = Layer.effect(
  AgentResources,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const telnyx = yield* Telnyx
    const openRouter = yield* OpenRouter
    const agentMail = yield* AgentMail
    const wallets = yield* AgentWallets

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

    const freeAtProvider = (
      instanceId: string,
      r: HeldResource,
    ): Effect.Effect<void, ProviderError | NotConfigured> => {
      switch (r.provider) {
        case "telnyx":
          return telnyx.release(instanceId).pipe(Effect.asVoid)
        case "openrouter":
          return openRouter.deleteKey(r.externalId)
        case "agentmail":
          return agentMail.deleteInbox(r.externalId)
        case "bankr":
        case "wallet":
          return Effect.void // bankr rows are from before agent_wallets (the key lived in the runtime's env); wallets go below
      }
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
      Effect.all([recorded(instanceId), wallets.get(instanceId)]).pipe(
        Effect.map(
          ([rows, wallet]): ReadonlyArray<HeldResource> =>
            Option.isSome(wallet) ? [...rows, { provider: "wallet", externalId: wallet.value.address }] : rows,
        ),
      )

    const release = (instanceId: string) =>
      Effect.gen(function* () {
        const rows = yield* recorded(instanceId)
        // A Telnyx number can be assigned in phone_numbers before its instance_resources row exists (crash in
        // between): releasing by instance id covers it too.
        const providers = new Set<Provider>([...rows.map((r) => r.provider)])
        const results = yield* Effect.forEach([...providers], (p) => Effect.result(releaseOne(instanceId, p)), {
          concurrency: "unbounded",
        })
        yield* telnyx.release(instanceId).pipe(Effect.ignore)
        // The wallet goes only here, with the agent's other resources (never on a destroy of its compute alone).
        const wallet = yield* Effect.result(
          wallets
            .remove(instanceId, "released")
            .pipe(Effect.tapError((e) => recordError(instanceId, "wallet", "release", e.message))),
        )
        if (wallet._tag === "Failure") results.push(wallet as (typeof results)[number])
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

      const step = <A>(
        provider: Provider,
        configured: boolean,
        take: Effect.Effect<A, ProviderError | NotConfigured>,
        use: (a: A) => { externalId: string; env: Record<string, string> },
      ) =>
        Effect.gen(function* () {
          if (!configured) return yield* progress(provider, "skip", `${provider} is not configured`)
          yield* progress(provider, "active", `taking a ${provider} resource`)
          // Taking and recording go together: a claim timeout (an interruption) that fell between them would leave
          // something the provider made that no release knows of. Bounded by the provider calls' own timeouts.
          const taken = yield* Effect.uninterruptible(
            Effect.gen(function* () {
              const made = use(yield* take)
              yield* record(instanceId, provider, made.externalId)
              return made
            }),
          )
          resources.push({ provider, externalId: taken.externalId })
          Object.assign(env, taken.env)
          yield* progress(provider, "ok", `${provider}: ${taken.externalId}`)
        }).pipe(
          Effect.tapError((e) =>
            Effect.andThen(
              progress(provider, "fail", e.message),
              recordError(instanceId, provider, "acquire", e.message),
            ),
          ),
        )

      return Effect.gen(function* () {
        // Only the agent's own OpenRouter key (capped per agent) goes to the agent. Inbox, number and wallet stay with
        // the pool: the agent uses them through /api/agent-services with its instance token, so no org key
        // (TELNYX_API_KEY, the AgentMail key, BANKR_PARTNER_KEY) ever reaches an agent.
        yield* step("telnyx", telnyx.configured, telnyx.acquire(instanceId), (phone) => ({
          externalId: phone,
          env: {},
        }))
        yield* step("openrouter", openRouter.configured, openRouter.createKey(instanceId), (k) => ({
          externalId: k.hash,
          env: { OPENROUTER_API_KEY: Redacted.value(k.key) },
        }))
        yield* step("agentmail", agentMail.configured, agentMail.createInbox(instanceId), (i) => ({
          externalId: i.inboxId,
          env: {},
        }))
        if (wallets.configured) {
          yield* progress("wallet", "active", "making a wallet")
          const w = yield* wallets
            .create(instanceId)
            .pipe(
              Effect.tapError((e) =>
                Effect.andThen(
                  progress("wallet", "fail", e.message),
                  recordError(instanceId, "wallet", "acquire", e.message),
                ),
              ),
            )
          resources.push({ provider: "wallet", externalId: w.address })
          yield* progress("wallet", "ok", `wallet: ${w.address}`)
        } else yield* progress("wallet", "skip", "wallets are not configured")
        return { resources: [...resources], env: { ...env } }
      }).pipe(
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
  }),
)

/**
 * Every provider from env; live AgentResources when at least one is configured, else AgentResourcesNone. Also
 * provides the OpenRouter service it built, so spend lookups (admin API/page, the bot's /agents) read the keys
 * through the same client that created them.
 */
export const agentResourcesLayerFromEnv = Layer.unwrap(
  Effect.gen(function* () {
    const ctx = yield* Layer.build(
      Layer.mergeAll(telnyxLayerFromEnv, openRouterLayerFromEnv, agentMailLayerFromEnv, agentWalletsLayerFromEnv),
    )
    const any = [
      Context.get(ctx, Telnyx),
      Context.get(ctx, OpenRouter),
      Context.get(ctx, AgentMail),
      Context.get(ctx, AgentWallets),
    ].some((p) => p.configured)
    const resources = any ? AgentResourcesLive.pipe(Layer.provide(Layer.succeedContext(ctx))) : AgentResourcesNone
    // The provider services too: spend lookups read keys through the OpenRouter client that made them, and the
    // agent service API (providers/services) sends through the same AgentMail/Telnyx clients and wallets.
    return Layer.mergeAll(resources, Layer.succeedContext(ctx))
  }),
)
