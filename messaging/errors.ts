import { Schema } from "effect"

export class MessagingError extends Schema.TaggedError<MessagingError>()("MessagingError", {
  /** e.g. "not-found", "not-member", "forbidden", "unknown-inbox", "unreachable", "network", "unavailable", "invalid" */
  reason: Schema.String,
  message: Schema.String,
}) {}
