import { Context, Effect, type Option, Stream } from "effect"
import type {
  DatabaseError,
  InstanceNotFound,
  InvalidRequest,
  NoAgentAvailable,
  ProviderError,
  ProviderFault,
  ProvisionFailed,
  StaleTransition,
  UpgradeRefused,
} from "../domain/errors.ts"
import type { Instance, InstanceCounts, InstanceEvent, InstanceStatus } from "../domain/instance.ts"
import type { QuotaExceeded } from "../domain/quota.ts"
import type { ModelProblemKind, ModelSettings } from "./models.ts"
import type { QuotaSettings } from "./quota/settings.ts"
import type { Template } from "../domain/template.ts"
import type { AgentConversation } from "./RuntimeClient.ts"
import type { AvatarNotPlaced } from "@convos-agents/contract"
import type { UpgradeReport } from "./upgrade.ts"

export interface ClaimRequest {
  /** Idempotency key: the same key always returns the same claim (chat: the message id; HTTP: Idempotency-Key). */
  readonly key: string
  /** Owner of the claimed agent: the person's inbox id, or "api:<label>". */
  readonly claimedBy: string
  readonly agentName?: string
  readonly instructions?: string
  readonly templateSlug?: string
  /** Convos invite URL of an existing conversation the agent should join instead of creating its own. */
  readonly joinUrl?: string
  /**
   * Further owners this agent counts against under AGENTS_PER_OWNER besides claimedBy (the web: the visitor's IP
   * address, so a fresh cookie does not reset the count). Ignored for API clients (`api:<label>`), which are
   * counted per hour instead (API_CLAIMS_PER_HOUR).
   */
  readonly quotaKeys?: ReadonlyArray<string>
  /**
   * When no agent is idle: wait up to CLAIM_WAIT for the next one (the pool starts one more; first come, first
   * served) instead of failing with NoAgentAvailable at once. Progress says how long ("wait" step, `etaMs`).
   */
  readonly wait?: boolean
}

export interface ClaimResult {
  readonly instance: Instance
  readonly conversationId: string
  readonly inviteUrl: string | null
  readonly joined: boolean
  /** True when this key had already claimed: the earlier result is returned, nothing new was claimed. */
  readonly replayed: boolean
}

/** Progress of long operations (claim / replenish / drain), for chat "working on it" lines and SSE. */
export interface Progress {
  readonly step: string
  readonly status: "active" | "ok" | "fail" | "skip"
  readonly message: string
  readonly instanceId?: string
  /** The "wait" step: about how many milliseconds until an agent is ready. */
  readonly etaMs?: number
}
export type OnProgress = (p: Progress) => Effect.Effect<void>

/** Published on Pool.events: what the ops chat alerts and the admin page react to. */
export type PoolEvent =
  /** `duringSetup`: its claim's setup failed (the claimer is told in the claim's answer), else a running agent stopped. */
  | {
      readonly _tag: "InstanceCrashed"
      readonly instanceId: string
      readonly agentName: string | null
      readonly reason: string
      readonly duringSetup?: boolean
    }
  | { readonly _tag: "InstanceDead"; readonly instanceId: string; readonly reason: string }
  /** A crashed agent answers again after its owner's restart (Pool.restart). */
  | { readonly _tag: "InstanceRecovered"; readonly instanceId: string; readonly agentName: string | null }
  | { readonly _tag: "IdleBelowTarget"; readonly idle: number; readonly target: number }
  | { readonly _tag: "ProviderFailing"; readonly provider: string; readonly message: string }
  /** A long-running loop of the pool (the tick) stopped with an error; it runs again (the ops chat is told). */
  | { readonly _tag: "LoopFailing"; readonly loop: string; readonly message: string }
  /** Creates at this provider paused (ProviderCircuit): once per outage; `fault` "unauthorized" is a configuration fault. */
  | {
      readonly _tag: "ProviderCircuitOpened"
      readonly provider: string
      readonly reason: string
      readonly fault: ProviderFault
      readonly retryInMs: number
    }
  /** Creates resumed: a trial instance became ready, or (configuration fault) the provider answered again. */
  | {
      readonly _tag: "ProviderCircuitClosed"
      readonly provider: string
      readonly pausedForMs: number
      readonly failures: number
      readonly fault: ProviderFault
    }
  /** The agent asked its owner for more (the "request more" button of its services page, through the service API). */
  | {
      readonly _tag: "MoreRequested"
      readonly instanceId: string
      readonly agentName: string | null
      /** The chat user who owns the agent (claimedBy). */
      readonly owner: string
      /** The spend line the owner sees ("$1.23 / $5.00"), or null when unknown. */
      readonly spend: string | null
    }
  /**
   * A claimed agent cannot think: its model server does not answer, does not know its model, or refuses its key (the
   * agent reported it; the person in the chat got `message`). At most one per agent and kind every 10 minutes.
   */
  | {
      readonly _tag: "ModelProblem"
      readonly instanceId: string
      readonly agentName: string | null
      readonly kind: ModelProblemKind
      readonly model: string | null
      readonly message: string
    }
  /**
   * The rolling upgrade (Pool.upgrade) restarting one agent (`claimed`: someone's, else idle): `restarting`, then
   * `back` once it answers on the new runtime, or `failed` with the reason.
   */
  | {
      readonly _tag: "UpgradeStep"
      readonly instanceId: string
      readonly agentName: string | null
      readonly claimed: boolean
      readonly phase: "restarting" | "back" | "failed"
      readonly reason?: string
    }
  | {
      readonly _tag: "Transition"
      readonly instanceId: string
      readonly from: InstanceStatus | null
      readonly to: InstanceStatus
    }

export interface TickReport {
  readonly ran: boolean // false when another replica holds the tick lock
  readonly promoted: number // starting → idle
  readonly markedDead: number
  readonly markedCrashed: number
  readonly created: number
  readonly destroyed: number // dead instances (and earlier failed destroys) destroyed this tick
  readonly providerCalls: number // calls to the compute provider (status batches, creates, destroys)
  readonly healthChecks: number // GET /pool/health calls to runtimes
  readonly durationMs: number
}

export interface ListFilter {
  readonly status?: ReadonlyArray<InstanceStatus>
  readonly claimedBy?: string
  readonly limit?: number
}

type PoolError = DatabaseError

export class Pool extends Context.Service<
  Pool,
  {
    readonly claim: (
      req: ClaimRequest,
      onProgress?: OnProgress,
    ) => Effect.Effect<ClaimResult, NoAgentAvailable | QuotaExceeded | ProvisionFailed | InvalidRequest | PoolError>
    readonly replenish: (
      n: number,
      onProgress?: OnProgress,
    ) => Effect.Effect<ReadonlyArray<Instance>, InvalidRequest | ProviderError | PoolError>
    /** Destroys up to n idle instances (never claimed ones). */
    readonly drain: (
      n: number,
      onProgress?: OnProgress,
    ) => Effect.Effect<ReadonlyArray<Instance>, InvalidRequest | PoolError>
    /** Destroys any instance (admin), releasing its provider resources. */
    readonly kill: (id: string) => Effect.Effect<Instance, InstanceNotFound | PoolError>
    /** Removes a crashed or dead instance's row after destroying what is left of it. */
    readonly dismiss: (id: string) => Effect.Effect<Instance, InstanceNotFound | StaleTransition | PoolError>
    readonly counts: Effect.Effect<InstanceCounts, PoolError>
    readonly list: (filter?: ListFilter) => Effect.Effect<ReadonlyArray<Instance>, PoolError>
    readonly get: (id: string) => Effect.Effect<Instance, InstanceNotFound | PoolError>
    /** Owner-scoped changes (manager bot /name, /instruct, /join): refused unless claimedBy matches. */
    readonly rename: (
      id: string,
      owner: string,
      agentName: string,
    ) => Effect.Effect<Instance, InstanceNotFound | InvalidRequest | ProviderError | PoolError>
    readonly instruct: (
      id: string,
      owner: string,
      instructions: string,
    ) => Effect.Effect<Instance, InstanceNotFound | InvalidRequest | ProviderError | PoolError>
    /**
     * The owner switches the agent's model (manager bot /model): only the configured model or one in MODELS_ALLOWED
     * (refused naming them otherwise). The running agent takes it from its next turn (OpenClaw config hot reload).
     */
    readonly setModel: (
      id: string,
      owner: string,
      model: string,
    ) => Effect.Effect<Instance, InstanceNotFound | InvalidRequest | ProviderError | PoolError>
    /**
     * An agent says it cannot think (agent service API POST /me/model-problem): published as a ModelProblem event
     * (the owner's manager chat and the ops chat are told), at most once per agent and kind every 10 minutes.
     */
    readonly reportModelProblem: (
      id: string,
      problem: { readonly kind: ModelProblemKind; readonly model: string | null; readonly message: string },
    ) => Effect.Effect<{ readonly notified: boolean }, InstanceNotFound | PoolError>
    readonly join: (
      id: string,
      owner: string,
      inviteUrl: string,
    ) => Effect.Effect<
      { readonly joined: boolean; readonly pending: boolean; readonly conversationId: string | null },
      InstanceNotFound | InvalidRequest | ProviderError | PoolError
    >
    /** A new invite link to the owner's running agent's conversation; every earlier link stops working. */
    readonly rotateInvite: (
      id: string,
      owner: string,
    ) => Effect.Effect<Instance, InstanceNotFound | InvalidRequest | ProviderError | PoolError>
    /** The conversations the owner's running agent is in (its runtime's list, its own first). */
    readonly conversations: (
      id: string,
      owner: string,
    ) => Effect.Effect<ReadonlyArray<AgentConversation>, InstanceNotFound | InvalidRequest | ProviderError | PoolError>
    /**
     * The owner's running agent leaves one of its conversations (the members see it go; it stops answering there),
     * recorded as a `leave` event. Someone else's agent looks missing (InstanceNotFound); a conversation it is not in
     * is InvalidRequest on "conversation". Returns the conversation id.
     */
    readonly leave: (
      id: string,
      owner: string,
      conversationId: string,
    ) => Effect.Effect<string, InstanceNotFound | InvalidRequest | ProviderError | PoolError>
    /**
     * The owner gives a running or crashed agent to `to`, who then owns it (and it counts against their
     * AGENTS_PER_OWNER); refused when `to` already holds that many, or when `from` does not own it (looks missing).
     */
    readonly transfer: (
      id: string,
      from: string,
      to: string,
    ) => Effect.Effect<Instance, InstanceNotFound | InvalidRequest | QuotaExceeded | PoolError>
    /**
     * Starts the owner's crashed agent again on its state (Compute.restart) and waits until it answers; then it is
     * claimed again (InstanceRecovered). Refused with the reason when it is not crashed or the compute cannot restart.
     */
    readonly restart: (
      id: string,
      owner: string,
    ) => Effect.Effect<Instance, InstanceNotFound | InvalidRequest | ProviderError | PoolError>
    /**
     * The rolling upgrade: every idle agent restarts on the runtime this deployment runs now, at once; then every
     * claimed one, one at a time, on its own state (same identity and conversations), each waited for until it answers
     * (within POOL_START_TIMEOUT). A failure is reported and the rest go on; nothing is retried. UpgradeRefused while
     * another upgrade runs (on any replica of this database), or when the compute cannot restart agents (Railway).
     */
    readonly upgrade: (onProgress?: OnProgress) => Effect.Effect<UpgradeReport, UpgradeRefused | PoolError>
    /**
     * The owner's picture for their running agent (manager bot /avatar): fetched from `url` within the avatar limits
     * (http(s), AVATAR_FETCH_ALLOW_PRIVATE, 2 MB, PNG/JPEG/WebP/GIF by its bytes; each refusal an InvalidRequest that
     * says what to send), handed to the agent (PATCH /pool/agent {avatar}), which shows it in every conversation.
     */
    readonly setAvatar: (
      id: string,
      owner: string,
      url: string,
    ) => Effect.Effect<
      { readonly agent: Instance; readonly bytes: number; readonly contentType: string; readonly sha256: string },
      InstanceNotFound | InvalidRequest | ProviderError | AvatarNotPlaced | PoolError
    >
    /**
     * The agent's encrypted copy of its picture for one conversation (agent service API): kept until a newer copy for
     * that conversation replaces it; served at `path` (/avatars/<id>) to anyone with the link.
     */
    readonly putAvatarBlob: (
      instanceId: string,
      conversationId: string,
      ciphertext: Uint8Array,
    ) => Effect.Effect<{ readonly id: string; readonly path: string }, InvalidRequest | PoolError>
    /** An encrypted picture by its id (GET /avatars/<id>). */
    readonly avatarBlob: (id: string) => Effect.Effect<Option.Option<Uint8Array>, PoolError>
    /** The owner gives the agent back: it is destroyed (never reused for someone else). */
    readonly release: (id: string, owner: string) => Effect.Effect<Instance, InstanceNotFound | PoolError>
    /**
     * The agent's "request more" (its services page): tells its owner in their manager chat (a MoreRequested event the
     * bot turns into a message). Refused for an agent that is not claimed or whose owner has no manager chat (api:).
     */
    readonly requestMore: (
      id: string,
      spend: string | null,
    ) => Effect.Effect<{ readonly owner: string }, InstanceNotFound | InvalidRequest | PoolError>
    /** The owner's signed, expiring link to the agent's own page (null when the agent has no public URL). */
    readonly pageLink: (id: string) => Effect.Effect<string | null, InstanceNotFound | PoolError>
    /** Runs one reconcile tick now (same code as the scheduled one, same lock). */
    readonly tick: Effect.Effect<TickReport, PoolError>
    readonly templates: Effect.Effect<ReadonlyArray<Template>, PoolError>
    readonly template: (slug: string) => Effect.Effect<Template, InvalidRequest | PoolError>
    readonly events: Stream.Stream<PoolEvent>
    /** The audit trail (`events` table), newest first: the latest `limit` events of the pool, or of one instance. */
    readonly recentEvents: (filter: {
      readonly limit: number
      readonly instanceId?: string
    }) => Effect.Effect<ReadonlyArray<InstanceEvent>, PoolError>
    /** Target sizes from config, for /counts and alerts. */
    readonly targets: { readonly minIdle: number; readonly maxTotal: number }
    /** AGENTS_PER_OWNER, API_CLAIMS_PER_HOUR, WEB_AGENT_TTL: the edges tell people what the limits are. */
    readonly quotas: QuotaSettings
    /** The configured model and what `/model` may switch to (shown by /agent, /agents and the admin page). */
    readonly models: ModelSettings
    /**
     * This process to the other replicas: its id, and which of some replica ids belong to processes that are gone
     * (their Postgres session lock has been free for POOL_REPLICA_GONE_AFTER: the first sighting of a free lock starts
     * that clock, so ask again later). The manager bot uses it to take over only a dead process's messages.
     */
    readonly replica: {
      readonly id: string
      readonly gone: (ids: ReadonlyArray<string>) => Effect.Effect<ReadonlySet<string>>
    }
  }
>()("pool-core/pool/Pool") {}
