import { Schema } from "effect"
import { AvatarMissReason } from "@convos-agents/contract"

// Errors of the agent's HTTP-facing operations; each message says what to do. Mapped to HTTP statuses in http/routes.ts.

export class AlreadyProvisioned extends Schema.TaggedError<AlreadyProvisioned>()("AlreadyProvisioned", {
  conversationId: Schema.NullOr(Schema.String),
  message: Schema.String,
}) {}

export class BadInvite extends Schema.TaggedError<BadInvite>()("BadInvite", {
  field: Schema.String,
  message: Schema.String,
}) {}

export class JoinRejected extends Schema.TaggedError<JoinRejected>()("JoinRejected", {
  errorType: Schema.String,
  message: Schema.String,
}) {}

/** The agent has no conversation of its own (it joined someone else's): nothing to make an invite to. */
export class NoOwnConversation extends Schema.TaggedError<NoOwnConversation>()("NoOwnConversation", {
  message: Schema.String,
}) {}

export class MessagingUnavailable extends Schema.TaggedError<MessagingUnavailable>()("MessagingUnavailable", {
  message: Schema.String,
}) {}

/** The agent is not in that conversation (GET /convos/conversations lists the ones it is in). */
export class UnknownConversation extends Schema.TaggedError<UnknownConversation>()("UnknownConversation", {
  conversationId: Schema.String,
  message: Schema.String,
}) {}

/** The network refused the leave (the agent is the conversation's only member, or it is a DM). */
export class CannotLeave extends Schema.TaggedError<CannotLeave>()("CannotLeave", {
  message: Schema.String,
}) {}

/** The agent cannot host its profile picture: it has no way to reach the pool's picture store (POOL_SERVICES_URL). */
export class AvatarUnavailable extends Schema.TaggedError<AvatarUnavailable>()("AvatarUnavailable", {
  message: Schema.String,
}) {}

/** The picture is not in one conversation's profile, and why (the first one is what the owner hears). */
export class AvatarMiss extends Schema.TaggedError<AvatarMiss>()("AvatarMiss", {
  conversationId: Schema.String,
  reason: AvatarMissReason,
  message: Schema.String,
}) {}
