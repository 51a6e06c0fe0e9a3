import { Schema } from "effect"

/**
 * Lifecycle of one agent instance (see docs/schema.md):
 * starting → idle → claiming → claimed, plus crashed (claimed but unhealthy), dead (never healthy / gone),
 * draining (being destroyed). Every transition is one guarded SQL statement that also writes an `events` row.
 */
export const InstanceStatus = Schema.Literals([
  "starting",
  "idle",
  "claiming",
  "claimed",
  "crashed",
  "dead",
  "draining",
])
export type InstanceStatus = typeof InstanceStatus.Type

export const ComputeProviderName = Schema.Literals(["local", "railway", "docker", "memory"])
export type ComputeProviderName = typeof ComputeProviderName.Type

/** One row of `instances`, as the application sees it. Secrets are never part of it (only the token hash). */
export class Instance extends Schema.Class<Instance>("pool-core/domain/Instance")({
  id: Schema.String,
  status: InstanceStatus,
  provider: ComputeProviderName,
  /** The compute provider's own id (local: process key; railway: service id). */
  providerRef: Schema.NullOr(Schema.String),
  /** Groups instances for batched status calls (railway: project id). */
  providerProjectRef: Schema.NullOr(Schema.String),
  /** Base URL of the instance's HTTP server (runtime contract), once known. */
  url: Schema.NullOr(Schema.String),
  /** sha256 hex of the per-instance bearer token; the token itself is derived, never stored. */
  tokenHash: Schema.String,
  agentName: Schema.NullOr(Schema.String),
  instructions: Schema.NullOr(Schema.String),
  templateSlug: Schema.NullOr(Schema.String),
  /** The agent's own model (its template's, or its owner's `/model`); null: the configured one. */
  model: Schema.optional(Schema.NullOr(Schema.String)),
  conversationId: Schema.NullOr(Schema.String),
  inviteUrl: Schema.NullOr(Schema.String),
  joinUrl: Schema.NullOr(Schema.String),
  /** Who owns the claimed agent (manager bot: the person's inbox id; API: "api:<label>"). */
  claimedBy: Schema.NullOr(Schema.String),
  lastError: Schema.NullOr(Schema.String),
  createdAt: Schema.Date,
  updatedAt: Schema.Date,
  claimedAt: Schema.NullOr(Schema.Date),
  /** Last time /pool/health answered ready; the grace period before dead/crashed counts from here. */
  lastHealthyAt: Schema.NullOr(Schema.Date),
}) {}

export const InstanceCounts = Schema.Struct({
  starting: Schema.Int,
  idle: Schema.Int,
  claiming: Schema.Int,
  claimed: Schema.Int,
  crashed: Schema.Int,
  dead: Schema.Int,
  draining: Schema.Int,
  total: Schema.Int,
})
export type InstanceCounts = typeof InstanceCounts.Type

/** A row of the append-only `events` audit table. */
export class InstanceEvent extends Schema.Class<InstanceEvent>("pool-core/domain/InstanceEvent")({
  id: Schema.Int,
  instanceId: Schema.String,
  fromStatus: Schema.NullOr(InstanceStatus),
  toStatus: Schema.NullOr(InstanceStatus),
  kind: Schema.String,
  detail: Schema.NullOr(Schema.String),
  createdAt: Schema.Date,
}) {}
