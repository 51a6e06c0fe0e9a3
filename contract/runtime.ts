import { Schema } from "effect"
import { AgentName } from "./names.ts"
import { Instructions, LIMITS, ModelId, TemplateSlug } from "./limits.ts"

// The instance HTTP contract (docs/convos-extension.md): the bodies the pool sends to an agent's runtime and the
// answers it reads back, as Effect Schemas. One module for both sides: the runtime decodes the requests with these
// (runtime/src/http/routes.ts) and the pool's client decodes the answers with these (pool-core/pool/RuntimeClientLive.ts).

const ENV_NAME = /^[A-Z][A-Z0-9_]*$/

/** An invite or join URL (any non-empty text; the agent checks it is an invite it can use). */
const Url = Schema.String.check(Schema.isNonEmpty({ message: "must not be empty" }))

// ---- requests (pool → runtime) ----

/**
 * POST /pool/provision. `env` carries the per-agent provider resources acquired at claim time (OPENROUTER_API_KEY,
 * AGENTMAIL_INBOX_ID …): secrets, applied by the runtime, never logged or echoed back.
 */
export const ProvisionBody = Schema.Struct({
  agentName: AgentName,
  instructions: Instructions,
  templateSlug: Schema.optional(Schema.NullOr(TemplateSlug)),
  joinUrl: Schema.optional(Schema.NullOr(Url)),
  /** The agent's own model (its template's); absent or null: the configured one (MODEL / OPENCLAW_PRIMARY_MODEL). */
  model: Schema.optional(Schema.NullOr(ModelId)),
  env: Schema.optional(
    Schema.Record(Schema.String, Schema.String).check(
      Schema.makeFilter((vars: Readonly<Record<string, string>>) => {
        const bad = Object.keys(vars).find((k) => !ENV_NAME.test(k))
        return bad === undefined ? undefined : { path: [bad], issue: "env names must be UPPER_SNAKE_CASE" }
      }),
    ),
  ),
})
export type ProvisionRequest = typeof ProvisionBody.Type

/** The picture types Convos shows as a profile image; the pool tells them apart by their first bytes. */
export const AVATAR_TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif"] as const

/**
 * An agent's profile picture as the pool sends it (already fetched and checked): the image bytes in base64. The agent
 * encrypts it with each conversation's image key (Convos' EncryptedProfileImageRef), uploads each copy to the pool
 * (POST /api/agent-services/me/avatar-blobs) and names it in its profile in every conversation it is in.
 */
export const AvatarImage = Schema.Struct({
  contentType: Schema.Literals(AVATAR_TYPES),
  data: Schema.String.check(
    Schema.isMaxLength(Math.ceil(LIMITS.avatarBytes / 3) * 4, {
      message: `must be at most ${LIMITS.avatarBytes} bytes of image (base64)`,
    }),
    Schema.isPattern(/^[A-Za-z0-9+/]+={0,2}$/, { message: "must be base64" }),
  ),
})
export type AvatarImage = typeof AvatarImage.Type

/**
 * PATCH /pool/agent: rename, new instructions or another model for a claimed agent. `model` switches the model from
 * the agent's next turn (openclaw.json rewritten, OpenClaw's config hot reload, no restart); null: the configured one.
 */
export const AgentPatchBody = Schema.Struct({
  agentName: Schema.optional(AgentName),
  instructions: Schema.optional(Instructions),
  model: Schema.optional(Schema.NullOr(ModelId)),
  /** A new profile picture (manager bot /avatar), shown in every conversation the agent is in and joins later. */
  avatar: Schema.optional(AvatarImage),
})
export type AgentUpdate = typeof AgentPatchBody.Type

/** POST /convos/conversation. */
export const ConversationBody = Schema.Struct({
  name: AgentName,
  instructions: Schema.optional(Instructions),
  /** The seed's XMTP env: the network the conversation is on; it must be the agent's own. */
  env: Schema.optional(Schema.Literals(["devnet", "dev", "production"])),
})

/** POST /convos/join. */
export const JoinBody = Schema.Struct({ inviteUrl: Url })

/** POST /convos/leave: the agent leaves one of the conversations GET /convos/conversations lists. */
export const LeaveBody = Schema.Struct({
  conversationId: Schema.String.check(Schema.isNonEmpty({ message: "must not be empty" })),
})

// ---- answers (runtime → pool) ----

/** GET /pool/health. The conversation and its invite only for the holder of the instance token. */
export const HealthAnswer = Schema.Struct({
  ready: Schema.Boolean,
  version: Schema.String,
  conversationId: Schema.optional(Schema.NullOr(Schema.String)),
  inviteUrl: Schema.optional(Schema.NullOr(Schema.String)),
})
export type RuntimeHealth = typeof HealthAnswer.Type

/** POST /pool/provision. */
export const ProvisionAnswer = Schema.Struct({
  conversationId: Schema.String,
  inviteUrl: Schema.optional(Schema.NullOr(Schema.String)),
  joined: Schema.optional(Schema.Boolean),
  pending: Schema.optional(Schema.Boolean),
})

/**
 * POST /convos/invite: a new invite to the agent's own conversation. The group's tag changes with it, so every earlier
 * invite is refused on join ("revoked").
 */
export const InviteAnswer = Schema.Struct({ inviteUrl: Schema.String })

/** POST /convos/join. A join may still wait for the owner's acceptance: then there is no conversation id yet. */
export const JoinAnswer = Schema.Struct({
  conversationId: Schema.optional(Schema.NullOr(Schema.String)),
  inviteUrl: Schema.optional(Schema.NullOr(Schema.String)),
  joined: Schema.optional(Schema.Boolean),
  pending: Schema.optional(Schema.Boolean),
})

/** GET /convos/conversations: the groups the agent is in, in the order it got into them (its own first). */
export const ConversationsAnswer = Schema.Struct({
  conversations: Schema.Array(
    Schema.Struct({
      id: Schema.String,
      /** The group's name, null when it has none (or it could not be read). */
      name: Schema.NullOr(Schema.String),
    }),
  ),
})
export type AgentConversation = (typeof ConversationsAnswer.Type)["conversations"][number]

/** POST /convos/leave: the conversation it left. */
export const LeaveAnswer = Schema.Struct({ left: Schema.String })

/**
 * PATCH /pool/agent {avatar} when the picture did not reach every conversation the agent is in (the rest of the
 * change, e.g. a new name, is kept): how many it reached, and why the first one it missed failed. `not_allowed`: the
 * agent may not change that conversation's details (a group without an image key yet); `unavailable`: encrypting or
 * uploading it to the pool failed, worth another try later. The runtime answers it (HTTP 502) with `code` set to the
 * tag; the pool's client reads it back as this error.
 */
export const AvatarMissReason = Schema.Literals(["not_allowed", "unavailable"])
export type AvatarMissReason = typeof AvatarMissReason.Type

export class AvatarNotPlaced extends Schema.TaggedError<AvatarNotPlaced>()("AvatarNotPlaced", {
  reached: Schema.Number,
  total: Schema.Number,
  reason: AvatarMissReason,
  message: Schema.String,
}) {}

/** The body of that answer (runtime/src/http/routes.ts writes it, pool-core/pool/RuntimeClientLive.ts reads it). */
export const AvatarNotPlacedAnswer = Schema.Struct({
  code: Schema.Literal("AvatarNotPlaced"),
  error: Schema.String,
  reached: Schema.Number,
  total: Schema.Number,
  reason: AvatarMissReason,
})
