import { Context, Effect } from "effect"
import type { ProviderError } from "../domain/errors.ts"

// The pool's side of the runtime contract (DESIGN.md "Runtime contract").

export interface RuntimeHealth {
  readonly ready: boolean
  readonly version: string
  /** Only when asked with the instance token. */
  readonly conversationId?: string | null
  /** Only with the token: invite URL of the agent's conversation once provisioned (used to recover a claim after a manager restart). */
  readonly inviteUrl?: string | null
}

export interface ProvisionRequest {
  readonly agentName: string
  readonly instructions: string
  readonly templateSlug?: string | null
  readonly joinUrl?: string | null
  /**
   * Per-agent provider resources acquired at claim time (OPENROUTER_API_KEY, AGENTMAIL_INBOX_ID, TELNYX_PHONE_NUMBER,
   * BANKR_WALLET_KEY …). The runtime applies them to the agent; they are secrets: never logged or echoed back.
   */
  readonly env?: Readonly<Record<string, string>>
}

export interface ProvisionResult {
  readonly conversationId: string
  readonly inviteUrl: string | null
  readonly joined: boolean
  /** A join still waiting for the conversation owner to accept. */
  readonly pending?: boolean
}

export interface AgentUpdate {
  readonly agentName?: string
  readonly instructions?: string
}

/**
 * HTTP client for one runtime instance. Live layer: fetch with timeouts; tests use an in-memory layer
 * or real runtimes on loopback. Errors are ProviderError with provider "runtime".
 */
export class RuntimeClient extends Context.Service<
  RuntimeClient,
  {
    /**
     * GET /pool/health. Without the instance token the runtime says readiness only; with it, also the conversation and
     * invite (the tick uses that to recover a claim whose pool process stopped).
     */
    readonly health: (url: string, token?: string) => Effect.Effect<RuntimeHealth, ProviderError>
    readonly provision: (
      url: string,
      token: string,
      body: ProvisionRequest,
    ) => Effect.Effect<ProvisionResult, ProviderError>
    /** PATCH /pool/agent: rename / new instructions for a claimed agent. */
    readonly update: (url: string, token: string, body: AgentUpdate) => Effect.Effect<void, ProviderError>
    /** POST /convos/join: send the agent into another conversation. */
    readonly join: (url: string, token: string, inviteUrl: string) => Effect.Effect<ProvisionResult, ProviderError>
  }
>()("pool-core/pool/RuntimeClient") {}
