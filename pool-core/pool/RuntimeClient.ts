import { Context, Effect } from "effect"
import type {
  AgentConversation,
  AgentUpdate,
  AvatarNotPlaced,
  ProvisionRequest,
  RuntimeHealth,
} from "@convos-agents/contract"
import type { ProviderError } from "../domain/errors.ts"

// The pool's side of the runtime contract (DESIGN.md "Runtime contract"). The bodies and answers are the contract's
// Schemas (@convos-agents/contract, contract/runtime.ts), the same module the runtime decodes its requests with.

export type { AgentConversation, AgentUpdate, ProvisionRequest, RuntimeHealth }

/** An answer to provision or join, with the contract's optional fields filled in. */
export interface ProvisionResult {
  readonly conversationId: string
  readonly inviteUrl: string | null
  readonly joined: boolean
  /** A join still waiting for the conversation owner to accept. */
  readonly pending?: boolean
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
    /**
     * PATCH /pool/agent: rename / new instructions / picture for a claimed agent. AvatarNotPlaced: the change was taken
     * but the picture did not reach every conversation.
     */
    readonly update: (
      url: string,
      token: string,
      body: AgentUpdate,
    ) => Effect.Effect<void, ProviderError | AvatarNotPlaced>
    /** POST /convos/join: send the agent into another conversation. */
    readonly join: (url: string, token: string, inviteUrl: string) => Effect.Effect<ProvisionResult, ProviderError>
    /** POST /convos/invite: a new invite to the agent's own conversation; every earlier one stops working. */
    readonly rotateInvite: (url: string, token: string) => Effect.Effect<{ readonly inviteUrl: string }, ProviderError>
    /** GET /convos/conversations: the groups the agent is in, its own first. */
    readonly conversations: (
      url: string,
      token: string,
    ) => Effect.Effect<ReadonlyArray<AgentConversation>, ProviderError>
    /** POST /convos/leave: the agent leaves one of them (HTTP 404 when it is not in it). */
    readonly leave: (url: string, token: string, conversationId: string) => Effect.Effect<void, ProviderError>
  }
>()("pool-core/pool/RuntimeClient") {}
