import { Schema } from "effect"

/** An invite that cannot be used; `reason` is machine-readable, `message` says what to do. */
export class InviteError extends Schema.TaggedError<InviteError>()("InviteError", {
  reason: Schema.Literals([
    "not-an-invite",
    "malformed",
    "bad-signature",
    "expired",
    "conversation-expired",
    "wrong-creator",
    "undecryptable",
    "own-invite",
    "too-large",
  ]),
  message: Schema.String,
}) {}
