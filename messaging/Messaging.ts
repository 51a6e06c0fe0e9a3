import { Context, Effect, Option, Scope, Stream } from "effect"
import type { MessagingError } from "./errors.ts"

// The one messaging port. Adapters: devnet (embedded default, a loopback network server) and xmtp (@xmtp/node-sdk).
// Above it (shared by both): Convos invites/join protocol (messaging/convos), profiles, the terminal chat.

export type InboxId = string

export interface ContentType {
  readonly authorityId: string
  readonly typeId: string
  readonly versionMajor: number
  readonly versionMinor: number
}

export const TextContentType: ContentType = {
  authorityId: "xmtp.org",
  typeId: "text",
  versionMajor: 1,
  versionMinor: 0,
}

/** A secp256k1 identity: the XMTP EOA signer and the Convos invite signing key. */
export interface MessagingIdentity {
  readonly privateKey: `0x${string}`
  /** lowercase 0x address */
  readonly address: string
  /** sha256(lowercase address + "1") hex, as XMTP derives it with nonce 1 */
  readonly inboxId: InboxId
}

export type Consent = "unknown" | "allowed" | "denied"
export type MemberRole = "member" | "admin" | "super_admin"

export interface ConversationInfo {
  readonly id: string
  readonly kind: "group" | "dm"
  readonly name: string | null
  readonly description: string | null
  /** Convos stores its metadata (invite tag …) here: base64url protobuf, ≤ 8 KB. */
  readonly appData: string | null
  readonly creatorInboxId: InboxId
  readonly createdAt: Date
  /** DMs only */
  readonly peerInboxId: InboxId | null
}

export interface Member {
  readonly inboxId: InboxId
  readonly role: MemberRole
}

export interface ChatMessage {
  readonly id: string
  readonly conversationId: string
  readonly senderInboxId: InboxId
  readonly sentAt: Date
  readonly kind: "application" | "membership_change"
  readonly contentType: ContentType
  /** Encoded content bytes, passed through untouched (custom Convos types). */
  readonly content: Uint8Array
  /** Decoded text for text messages, else null. */
  readonly text: string | null
  readonly fallback: string | null
  /** Whether the sender asked for a push notification (recorded by devnet; XMTP does not expose it to receivers). */
  readonly shouldPush?: boolean
  /** For kind "membership_change": who was added/removed and by whom. */
  readonly membership?: {
    readonly added: ReadonlyArray<InboxId>
    readonly removed: ReadonlyArray<InboxId>
    readonly by: InboxId
  }
}

export interface OutgoingContent {
  readonly contentType: ContentType
  readonly content: Uint8Array
  readonly fallback?: string
  readonly shouldPush?: boolean
}

export interface GroupOptions {
  readonly name?: string
  readonly description?: string
  readonly appData?: string
}

export interface MessagingClient {
  readonly inboxId: InboxId
  readonly address: string
  readonly createGroup: (
    members: ReadonlyArray<InboxId>,
    options?: GroupOptions,
  ) => Effect.Effect<ConversationInfo, MessagingError>
  /** Find-or-create (idempotent). Used only for Convos join requests and their errors. */
  readonly dm: (peer: InboxId) => Effect.Effect<ConversationInfo, MessagingError>
  readonly conversation: (id: string) => Effect.Effect<Option.Option<ConversationInfo>, MessagingError>
  readonly conversations: Effect.Effect<ReadonlyArray<ConversationInfo>, MessagingError>
  readonly members: (conversationId: string) => Effect.Effect<ReadonlyArray<Member>, MessagingError>
  /** Fails for an inbox the network does not know. Needs admin rights. */
  readonly addMembers: (conversationId: string, inboxIds: ReadonlyArray<InboxId>) => Effect.Effect<void, MessagingError>
  readonly removeMembers: (
    conversationId: string,
    inboxIds: ReadonlyArray<InboxId>,
  ) => Effect.Effect<void, MessagingError>
  readonly updateGroup: (conversationId: string, options: GroupOptions) => Effect.Effect<void, MessagingError>
  /**
   * The caller leaves a group: the others get a membership_change removing it, it can no longer send there, gets no
   * new messages from it, and its consent for it becomes "denied". A leaving super admin with no other super admin
   * first hands the role to the first other member (a group always keeps one). Fails "invalid" for a DM or when the
   * caller is the only member (nobody to leave it to), "not-member" when it is no longer in it. On XMTP the removal is a
   * leave request the group's admins' clients commit, so the others see it once they sync.
   */
  readonly leave: (conversationId: string) => Effect.Effect<void, MessagingError>
  readonly sendText: (conversationId: string, text: string) => Effect.Effect<string, MessagingError>
  readonly send: (conversationId: string, content: OutgoingContent) => Effect.Effect<string, MessagingError>
  /**
   * History the caller may see (members see only messages after they joined). Oldest first.
   * With `afterMs`: the first `limit` messages after that time; without: the latest `limit` messages.
   */
  readonly messages: (
    conversationId: string,
    options?: { readonly afterMs?: number; readonly limit?: number },
  ) => Effect.Effect<ReadonlyArray<ChatMessage>, MessagingError>
  /**
   * Every message of every conversation the caller is in (own messages included), each id once, in order.
   * `afterMs` resumes after a restart: messages sent after that time are replayed first.
   */
  readonly stream: (options?: { readonly afterMs?: number }) => Stream.Stream<ChatMessage, MessagingError>
  readonly consent: (conversationId: string) => Effect.Effect<Consent, MessagingError>
  readonly setConsent: (conversationId: string, consent: Consent) => Effect.Effect<void, MessagingError>
  /** Pull new conversations/welcomes (no-op where the adapter is push-based). */
  readonly sync: Effect.Effect<void, MessagingError>
}

export interface ConnectOptions {
  /** Display name used in logs and for the devnet directory. */
  readonly label?: string
  /**
   * xmtp: path of the local sqlite database (kept across restarts; default under XMTP_DB_DIR).
   * devnet: ignored — the devnet server keeps all state; resume a stream after a restart with `stream({ afterMs })`.
   */
  readonly dbPath?: string
  /** 32-byte hex key encrypting the local database (xmtp). */
  readonly dbEncryptionKey?: string
}

export class Messaging extends Context.Service<
  Messaging,
  {
    readonly network: "devnet" | "dev" | "production"
    /** devnet only: the server URL, to hand to child processes as DEVNET_URL. */
    readonly devnetUrl?: string
    /** Registers the identity on the network if needed and opens a client; closed with the scope. */
    readonly connect: (
      identity: MessagingIdentity,
      options?: ConnectOptions,
    ) => Effect.Effect<MessagingClient, MessagingError, Scope.Scope>
  }
>()("messaging/Messaging") {}
