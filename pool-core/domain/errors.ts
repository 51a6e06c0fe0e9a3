import { Schema } from "effect"
import { InstanceStatus } from "./instance.ts"

// Every error carries a message a person can act on: what happened and what to do next.

export class NoAgentAvailable extends Schema.TaggedError<NoAgentAvailable>()("NoAgentAvailable", {
  message: Schema.String,
}) {
  static create = () =>
    new NoAgentAvailable({
      message: "No agent is available right now: the pool has no idle instance. Try again in a minute.",
    })
  /** A claim that waited CLAIM_WAIT and still got none (the pool is at POOL_MAX_TOTAL, or agents fail to start). */
  static afterWaiting = (waited: string) =>
    new NoAgentAvailable({
      message: `No agent became ready within ${waited} (the pool may be at its size limit, or agents are failing to start; the operators are alerted). Try again in a few minutes.`,
    })
}

export class InstanceNotFound extends Schema.TaggedError<InstanceNotFound>()("InstanceNotFound", {
  id: Schema.String,
  message: Schema.String,
}) {
  static forId = (id: string) =>
    new InstanceNotFound({ id, message: `No instance with id "${id}". List instances to find the right id.` })
}

/** A guarded transition found the row in another state than expected: someone else moved it first. */
export class StaleTransition extends Schema.TaggedError<StaleTransition>()("StaleTransition", {
  id: Schema.String,
  expected: Schema.Array(InstanceStatus),
  to: InstanceStatus,
  actual: Schema.NullOr(InstanceStatus),
  message: Schema.String,
}) {}

export class ProvisionFailed extends Schema.TaggedError<ProvisionFailed>()("ProvisionFailed", {
  instanceId: Schema.String,
  reason: Schema.String,
  message: Schema.String,
}) {}

/** Setting up a claimed agent (provider resources + POST /pool/provision) ran past POOL_PROVISION_TIMEOUT. */
export class SetupTimedOut extends Schema.TaggedError<SetupTimedOut>()("SetupTimedOut", {
  instanceId: Schema.String,
  message: Schema.String,
}) {
  static after = (instanceId: string, timeout: string) =>
    new SetupTimedOut({ instanceId, message: `the agent did not finish setting up within ${timeout}` })
}

/** A claim's row left `claiming` while it was being set up (the tick recovered or crashed it meanwhile). */
export class ClaimSuperseded extends Schema.TaggedError<ClaimSuperseded>()("ClaimSuperseded", {
  instanceId: Schema.String,
  message: Schema.String,
}) {
  static create = (instanceId: string) =>
    new ClaimSuperseded({ instanceId, message: "the instance changed state while it was being set up" })
}

export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  field: Schema.String,
  message: Schema.String,
}) {}

/** The instance exists but lacks what the operation needs (e.g. a top-up for an agent that holds no OpenRouter key). */
export class ResourceConflict extends Schema.TaggedError<ResourceConflict>()("ResourceConflict", {
  instanceId: Schema.String,
  provider: Schema.String,
  message: Schema.String,
}) {}

/** Pool.upgrade cannot run now: another upgrade is running in this process, or this compute cannot restart agents. */
export class UpgradeRefused extends Schema.TaggedError<UpgradeRefused>()("UpgradeRefused", {
  reason: Schema.Literals(["running", "unsupported"]),
  message: Schema.String,
}) {}

/** An operation needs a provider whose keys are not set. */
export class NotConfigured extends Schema.TaggedError<NotConfigured>()("NotConfigured", {
  provider: Schema.String,
  variable: Schema.String,
  message: Schema.String,
}) {
  static create = (provider: string, variable: string) =>
    new NotConfigured({ provider, variable, message: `${provider} is not configured: set ${variable} to use it.` })
}

/**
 * What kind of provider failure it is, which decides what the pool does:
 * - `unauthorized`: the key/token is refused or lacks permission: a configuration fault. Never "gone"; stop and alert.
 * - `not_found`: the provider said this resource does not exist (the only answer that may mark something gone).
 * - `throttled`: rate limited (429, or a provider's throttling wording): wait out the cooldown.
 * - `unavailable`: timeout, connection failure or 5xx: may get better by itself.
 * - `rejected`: any other refusal of this request (4xx, a GraphQL error): retrying the same request will not help.
 */
export const ProviderFault = Schema.Literals(["unauthorized", "not_found", "throttled", "unavailable", "rejected"])
export type ProviderFault = typeof ProviderFault.Type

export class ProviderError extends Schema.TaggedError<ProviderError>()("ProviderError", {
  provider: Schema.String,
  operation: Schema.String,
  /** HTTP status when the provider answered, null on timeout / connection failure. */
  status: Schema.NullOr(Schema.Int),
  retryable: Schema.Boolean,
  message: Schema.String,
  /** Set by clients that know better than the HTTP status (GraphQL errors inside a 200); else derived, see providerFault. */
  fault: Schema.optional(ProviderFault),
}) {}

/** The fault of a provider error: the client's own classification, else one derived from the HTTP status. */
export const providerFault = (e: ProviderError): ProviderFault => {
  if (e.fault !== undefined) return e.fault
  if (e.status === 401 || e.status === 403) return "unauthorized"
  if (e.status === 404) return "not_found"
  if (e.status === 429) return "throttled"
  if (e.status === null || e.status >= 500) return "unavailable"
  return "rejected"
}

export class DatabaseError extends Schema.TaggedError<DatabaseError>()("DatabaseError", {
  message: Schema.String,
  cause: Schema.Defect(),
}) {}

/** A configuration value (env var) is missing or invalid; the message names the variable and what is allowed. */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>()("InvalidConfig", {
  variable: Schema.String,
  message: Schema.String,
}) {}
