import { Context, Effect, Layer } from "effect"
import {
  type InstanceNotFound,
  type InvalidRequest,
  NotConfigured,
  type ProviderError,
  type ResourceConflict,
} from "../domain/errors.ts"
import type { OnProgress } from "../pool/Pool.ts"

/** One provider resource held by one instance (an OpenRouter key, an AgentMail inbox, a Telnyx number …). */
export interface HeldResource {
  /** "bankr": rows from before agent_wallets; a wallet held now is "wallet" (providers/wallet). */
  readonly provider: "openrouter" | "agentmail" | "telnyx" | "bankr" | "wallet"
  /** The provider's id for it (key hash, inbox id, phone number …); never a secret. */
  readonly externalId: string
}

export interface AcquiredResources {
  readonly resources: ReadonlyArray<HeldResource>
  /**
   * Env for the runtime: goes into the provision body, never into logs, events or APIs. Only the agent's own
   * OpenRouter key: org keys never reach an agent (its inbox, number and wallet are used through the pool).
   */
  readonly env: Readonly<Record<string, string>>
}

/** A done top-up: the amount added and the key's new cap. */
export interface TopUpResult {
  readonly instanceId: string
  readonly amountUsd: number
  readonly limitUsd: number
  /** True when this idempotency key had already topped up: the recorded result, nothing sent again. */
  readonly replayed: boolean
}

export type TopUpError = InvalidRequest | InstanceNotFound | ResourceConflict | NotConfigured | ProviderError

/**
 * Per-agent provider resources, asked for at claim time. Live layer (providers/resources): every configured provider,
 * resources recorded in the database so that kill/dismiss/release and restarts release each exactly once.
 * `AgentResources.none` (pool/ layers) is used when no provider is configured.
 */
export class AgentResources extends Context.Service<
  AgentResources,
  {
    /**
     * Whether agents can search the web: each gets its own OpenRouter key (OPENROUTER_MANAGEMENT_KEY set), and the
     * runtime routes web search through OpenRouter with it. Templates show their `web` skill only when this is true.
     */
    readonly webSearch: boolean
    /** Takes one resource from each configured provider. On a failure halfway, releases what it took, then fails. */
    readonly acquire: (
      instanceId: string,
      onProgress?: OnProgress,
    ) => Effect.Effect<AcquiredResources, ProviderError | NotConfigured>
    /** Releases everything recorded for the instance; idempotent (a second call releases nothing). */
    readonly release: (instanceId: string) => Effect.Effect<void, ProviderError>
    /** What an instance holds (for /agents and the admin page; no secrets). */
    readonly held: (instanceId: string) => Effect.Effect<ReadonlyArray<HeldResource>, ProviderError>
    /**
     * Raises the spending cap of the instance's OpenRouter key by `amountUsd` (> 0, whole cents, ≤ OPENROUTER_TOPUP_MAX)
     * and records a `topup` event; `by` (who asked: "api", "admin", "ops:<inbox>") goes into the event. Fails with
     * InvalidRequest (field amountUsd), InstanceNotFound, NotConfigured (no OPENROUTER_MANAGEMENT_KEY) or
     * ResourceConflict (the instance holds no key) before anything is sent to OpenRouter. `idempotencyKey` (API:
     * Idempotency-Key; ops chat: the message id): the same key tops up once, whichever replica gets it; without one,
     * every call is a new top-up. Top-ups of one agent run one at a time across replicas.
     */
    readonly topUp: (
      instanceId: string,
      amountUsd: number,
      by?: string,
      idempotencyKey?: string,
    ) => Effect.Effect<TopUpResult, TopUpError>
  }
>()("pool-core/providers/AgentResources") {}

/** No provider configured: agents get no per-agent resources, and there is nothing to release. */
export const AgentResourcesNone = Layer.succeed(AgentResources, {
  webSearch: false,
  acquire: () => Effect.succeed({ resources: [], env: {} }),
  release: () => Effect.void,
  held: () => Effect.succeed([]),
  topUp: () => Effect.fail(NotConfigured.create("OpenRouter", "OPENROUTER_MANAGEMENT_KEY")),
})

/** The template skill that needs web search (see AgentResources.webSearch). */
export const WEB_SKILL = "web"

/** The skills a template shows on this deployment: `web` only where agents can search the web. */
export const availableSkills = (skills: ReadonlyArray<string>, webSearch: boolean): ReadonlyArray<string> =>
  webSearch ? skills : skills.filter((s) => s !== WEB_SKILL)
