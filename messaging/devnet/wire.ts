// The devnet wire format (JSON over HTTP) shared by the server and the adapter, plus the SQLite schema.
// Content bytes travel as base64 so custom Convos content types pass through untouched.
import { Schema } from "effect"

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS identities (inbox_id TEXT PRIMARY KEY, address TEXT NOT NULL, label TEXT, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, inbox_id TEXT NOT NULL REFERENCES identities(inbox_id));
CREATE TABLE IF NOT EXISTS conversations (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT, description TEXT, app_data TEXT, creator TEXT NOT NULL,
  created_ms INTEGER NOT NULL, dm_a TEXT, dm_b TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS conversations_dm_pair ON conversations (dm_a, dm_b) WHERE kind = 'dm';
-- One row per membership interval: a member sees messages with from_seq <= seq <= to_seq (to_seq NULL = still a member).
CREATE TABLE IF NOT EXISTS members (conv TEXT NOT NULL, inbox TEXT NOT NULL, role TEXT NOT NULL, from_seq INTEGER NOT NULL, to_seq INTEGER);
CREATE INDEX IF NOT EXISTS members_by_inbox ON members (inbox, conv);
CREATE INDEX IF NOT EXISTS members_by_conv ON members (conv, inbox);
CREATE TABLE IF NOT EXISTS consent (inbox TEXT NOT NULL, conv TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (inbox, conv));
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, conv TEXT NOT NULL, sender TEXT NOT NULL,
  sent_ms INTEGER NOT NULL, kind TEXT NOT NULL, ct_authority TEXT NOT NULL, ct_type TEXT NOT NULL, ct_major INTEGER NOT NULL,
  ct_minor INTEGER NOT NULL, content BLOB NOT NULL, fallback TEXT, should_push INTEGER NOT NULL, membership TEXT);
CREATE INDEX IF NOT EXISTS messages_by_conv ON messages (conv, seq);
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (sent_ms);
`

export interface MessageRow {
  seq: number
  id: string
  conv: string
  sender: string
  sent_ms: number
  kind: "application" | "membership_change"
  ct_authority: string
  ct_type: string
  ct_major: number
  ct_minor: number
  content: Uint8Array
  fallback: string | null
  should_push: number
  membership: string | null
}

const ContentTypeSchema = Schema.Struct({
  authorityId: Schema.String,
  typeId: Schema.String,
  versionMajor: Schema.Number,
  versionMinor: Schema.Number,
})

export const WireOutgoingSchema = Schema.Struct({
  contentType: ContentTypeSchema,
  /** base64 */
  content: Schema.String,
  fallback: Schema.optional(Schema.String),
  shouldPush: Schema.optional(Schema.Boolean),
})
export type WireOutgoing = typeof WireOutgoingSchema.Type

export interface WireMessage {
  readonly seq: number
  readonly id: string
  readonly conversationId: string
  readonly senderInboxId: string
  readonly sentAtMs: number
  readonly kind: "application" | "membership_change"
  readonly contentType: typeof ContentTypeSchema.Type
  readonly content: string
  readonly fallback: string | null
  readonly shouldPush: boolean
  readonly membership: {
    readonly added: ReadonlyArray<string>
    readonly removed: ReadonlyArray<string>
    readonly by: string
  } | null
}

export interface WireConversation {
  readonly id: string
  readonly kind: "group" | "dm"
  readonly name: string | null
  readonly description: string | null
  readonly appData: string | null
  readonly creatorInboxId: string
  readonly createdAtMs: number
  readonly peerInboxId: string | null
}

export interface WireMember {
  readonly inboxId: string
  readonly role: "member" | "admin" | "super_admin"
}

export const toWireMessage = (r: MessageRow): WireMessage => ({
  seq: r.seq,
  id: r.id,
  conversationId: r.conv,
  senderInboxId: r.sender,
  sentAtMs: r.sent_ms,
  kind: r.kind,
  contentType: { authorityId: r.ct_authority, typeId: r.ct_type, versionMajor: r.ct_major, versionMinor: r.ct_minor },
  content: Buffer.from(r.content).toString("base64"),
  fallback: r.fallback,
  shouldPush: r.should_push === 1,
  membership: r.membership ? JSON.parse(r.membership) : null,
})

const InboxIdSchema = Schema.String.check(Schema.isPattern(/^[0-9a-f]{64}$/))
const GroupOptionsFields = {
  name: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  appData: Schema.optional(Schema.String),
}

/** Request bodies of POST /v1/<op>, validated at the server edge. */
export const Requests = {
  connect: Schema.Struct({ challenge: Schema.String, signature: Schema.String, label: Schema.optional(Schema.String) }),
  createGroup: Schema.Struct({ members: Schema.Array(InboxIdSchema), ...GroupOptionsFields }),
  dm: Schema.Struct({ peer: InboxIdSchema }),
  conversation: Schema.Struct({ conversationId: Schema.String }),
  conversations: Schema.Struct({}),
  members: Schema.Struct({ conversationId: Schema.String }),
  addMembers: Schema.Struct({ conversationId: Schema.String, inboxIds: Schema.Array(InboxIdSchema) }),
  removeMembers: Schema.Struct({ conversationId: Schema.String, inboxIds: Schema.Array(InboxIdSchema) }),
  leave: Schema.Struct({ conversationId: Schema.String }),
  updateGroup: Schema.Struct({ conversationId: Schema.String, ...GroupOptionsFields }),
  send: Schema.Struct({ conversationId: Schema.String, message: WireOutgoingSchema }),
  messages: Schema.Struct({
    conversationId: Schema.String,
    afterMs: Schema.optional(Schema.Number),
    limit: Schema.optional(Schema.Number),
  }),
  consent: Schema.Struct({ conversationId: Schema.String }),
  setConsent: Schema.Struct({
    conversationId: Schema.String,
    consent: Schema.Literals(["unknown", "allowed", "denied"]),
  }),
  poll: Schema.Struct({
    afterSeq: Schema.optional(Schema.Number),
    afterMs: Schema.optional(Schema.Number),
    waitMs: Schema.optional(Schema.Number),
  }),
} as const

export const challengeMessage = (challenge: string): Uint8Array =>
  new TextEncoder().encode(`convos devnet login ${challenge}`)
