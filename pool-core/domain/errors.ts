import { Schema } from "effect"
import { InstanceStatus } from "./instance.ts"

// Every error carries a message a person can act on: what happened and what to do next.

export class NoAgentAvailable extends Schema.TaggedError<NoAgentAvailable>()("NoAgentAvailable", {
  message: Schema.String,
}) {
  static create = () =>
    new NoAgentAvailable({ message: "No agent is available right now: the pool has no idle instance. Try again in a minute." })
}

export class InstanceNotFound extends Schema.TaggedError<InstanceNotFound>()("InstanceNotFound", {
  id: Schema.String,
  message: Schema.String,
}) {
  static forId = (id: string) => new InstanceNotFound({ id, message: `No instance with id "${id}". List instances to find the right id.` })
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

/** An operation needs a provider whose keys are not set. */
export class NotConfigured extends Schema.TaggedError<NotConfigured>()("NotConfigured", {
  provider: Schema.String,
  variable: Schema.String,
  message: Schema.String,
}) {
  static create = (provider: string, variable: string) =>
    new NotConfigured({ provider, variable, message: `${provider} is not configured: set ${variable} to use it.` })
}

export class ProviderError extends Schema.TaggedError<ProviderError>()("ProviderError", {
  provider: Schema.String,
  operation: Schema.String,
  /** HTTP status when the provider answered, null on timeout / connection failure. */
  status: Schema.NullOr(Schema.Int),
  retryable: Schema.Boolean,
  message: Schema.String,
}) {}

export class DatabaseError extends Schema.TaggedError<DatabaseError>()("DatabaseError", {
  message: Schema.String,
  cause: Schema.Defect(),
}) {}

/** A configuration value (env var) is missing or invalid; the message names the variable and what is allowed. */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>()("InvalidConfig", {
  variable: Schema.String,
  message: Schema.String,
}) {}
