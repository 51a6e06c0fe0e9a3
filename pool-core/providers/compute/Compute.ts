import { Context, Effect } from "effect"
import type { ComputeProviderName } from "../../domain/instance.ts"
import type { ProviderError } from "../../domain/errors.ts"

/** What the pool asks a compute provider to start: one runtime instance with its own token and env. */
export interface ComputeSpec {
  readonly instanceId: string
  /** Bearer token the instance must require on every route but /pool/health. */
  readonly instanceToken: string
  /** Extra environment for the runtime (model, provider keys, XMTP env …). */
  readonly env: Readonly<Record<string, string>>
}

export interface ComputeHandle {
  readonly providerRef: string
  readonly providerProjectRef: string | null
  /** Base URL of the runtime's HTTP server; may be null until the provider assigns one. */
  readonly url: string | null
}

/**
 * What the provider knows about one instance. `running` only means the process/deploy is up;
 * readiness is decided by the pool through GET /pool/health. `unknown`: the provider could not say this time (a
 * partial error in a batched answer); keep the last known state, never treat it as gone.
 */
export type ComputeState = "starting" | "running" | "failed" | "gone" | "sleeping" | "unknown"

export interface ComputeStatus {
  readonly providerRef: string
  readonly state: ComputeState
  readonly url: string | null
  readonly detail?: string
}

/** The compute port. Live layers: providers/compute/local (child processes), providers/compute/railway. */
export class Compute extends Context.Service<
  Compute,
  {
    readonly name: ComputeProviderName
    readonly create: (spec: ComputeSpec) => Effect.Effect<ComputeHandle, ProviderError>
    readonly destroy: (providerRef: string) => Effect.Effect<void, ProviderError>
    /**
     * Starts a stopped or crashed instance again on its own state (volume, state dir), with the token and env it was
     * created with; its address may change. Absent where the provider cannot (the pool then says so).
     */
    readonly restart?: (providerRef: string) => Effect.Effect<ComputeHandle, ProviderError>
    /**
     * The rolling upgrade (Pool.upgrade): stops a running instance and starts it on the runtime this deployment runs
     * now (local: the checkout, compiled again when a source changed; docker: its container created again from
     * DOCKER_RUNTIME_IMAGE on its volume), on its own state and token; its address may change. Absent where the
     * provider cannot (Railway: the pool refuses the upgrade, saying so).
     */
    readonly upgrade?: (providerRef: string) => Effect.Effect<ComputeHandle, ProviderError>
    /**
     * Status of many instances in as few provider calls as possible (railway: one query per project).
     * Refs the provider does not know come back as `gone`; refs it could not answer for come back as `unknown`.
     */
    readonly statusBatch: (
      refs: ReadonlyArray<{ providerRef: string; providerProjectRef: string | null }>,
    ) => Effect.Effect<ReadonlyMap<string, ComputeStatus>, ProviderError>
    /**
     * The last `maxBytes` of the instance's runtime log (stdout and stderr), for the admin instance page. Absent on a
     * provider that cannot give it here (the page says so and points to the provider's own log viewer).
     */
    readonly logTail?: (providerRef: string, maxBytes: number) => Effect.Effect<string, ProviderError>
  }
>()("pool-core/providers/compute/Compute") {}
