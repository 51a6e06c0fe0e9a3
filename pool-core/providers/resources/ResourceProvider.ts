import type { Effect, Option } from "effect"
import type { NotConfigured, ProviderError } from "../../domain/errors.ts"
import type { HeldResource } from "../AgentResources.ts"

/** What taking one resource gave: the provider's id for it (never a secret) and what it adds to the runtime's env. */
export interface Taken {
  readonly externalId: string
  readonly env: Readonly<Record<string, string>>
}

/**
 * One provider of per-agent resources (a phone number, an OpenRouter key, an inbox, a wallet …). Each provider module
 * implements it (`providers/<name>/resource.ts`) and is listed in `resources/registry.ts`; AgentResourcesLive takes,
 * records and releases through it, so adding a provider means adding a module and its line there.
 */
export interface ResourceProvider {
  readonly name: HeldResource["provider"]
  /** False: acquire skips it (its settings are unset). */
  readonly configured: boolean
  /** Progress lines of acquire: while taking, and when skipped (defaults name the provider). */
  readonly taking?: string
  readonly notConfigured?: string
  /** Takes one resource for the instance. */
  readonly take: (instanceId: string) => Effect.Effect<Taken, ProviderError | NotConfigured>
  /**
   * Where it is recorded. "rows": in instance_resources right after it is taken (uninterruptibly with the take), and
   * released row by row through `free`. "own": the provider keeps its own record (`heldBy`, `releaseInstance`).
   */
  readonly record: "rows" | "own"
  /** Frees one recorded resource at the provider. */
  readonly free: (instanceId: string, externalId: string) => Effect.Effect<void, ProviderError | NotConfigured>
  /** Releases by instance after its rows, for what no row names (a failure here fails the release and is retried). */
  readonly releaseInstance?: (instanceId: string) => Effect.Effect<void, ProviderError | NotConfigured>
  /** A resource recorded by the provider itself ("own"), for `held`. */
  readonly heldBy?: (instanceId: string) => Effect.Effect<Option.Option<string>, ProviderError>
}
