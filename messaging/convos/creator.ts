// Creator side of the Convos join protocol (what the Convos app does for invites it created): a join request arrives
// in a DM as a join_request (or the bare slug as text); it is verified and the requester is added to the group, or
// told in the DM why not. Lobby invites (the manager bot's public invite) let the app create a fresh private group per
// requester instead of adding everyone to one group.
import { Effect, Option, Stream } from "effect"
import { DataDir } from "@convos-agents/contract"
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { sha256 } from "@noble/hashes/sha2.js"
import { bytesToHex } from "@noble/hashes/utils.js"
import type { ChatMessage, InboxId, MessagingClient, MessagingIdentity } from "../Messaging.ts"
import { MessagingError } from "../errors.ts"
import {
  joinErrorContent,
  joinHandledContent,
  type JoinErrorType,
  type JoinRequest,
  JoinRequestType,
  isType,
  readJoinRequest,
} from "./contentTypes.ts"
import { InviteError } from "./errors.ts"
import { decodeMetadata } from "./metadata.ts"
import { checkInviteExpiry, decodeInvite, extractInviteCode, type ParsedInvite, verifyOwnInvite } from "./invite.ts"

export interface JoinContext {
  readonly requesterInboxId: InboxId
  readonly invite: ParsedInvite
  /** The conversation id inside the invite (for a lobby invite, the lobby's id). */
  readonly conversationId: string
  readonly request: JoinRequest | null
  readonly messageId: string
}

export interface InviteCreatorOptions {
  /**
   * Decides where the requester goes. Return the conversation to add them to (default: the invite's conversation),
   * or fail with a JoinRefused to send that error back.
   */
  readonly route?: (ctx: JoinContext) => Effect.Effect<string, JoinRefused | MessagingError>
  /** Ledger of handled join-request message ids (persist it so a restart does not handle one twice). */
  readonly alreadyHandled?: (messageId: string) => Effect.Effect<boolean>
  readonly markHandled?: (messageId: string) => Effect.Effect<void>
  /** Called after someone was added (e.g. to greet them). */
  readonly onJoined?: (ctx: JoinContext & { readonly groupId: string }) => Effect.Effect<void, MessagingError>
  /**
   * Who used which single-use invite (`expiresAfterUse`). Default: a JSON file per creator,
   * `$DATA_DIR/convos/used-invites/<creator inbox id>.json`, so a restart does not make a used invite usable again.
   */
  readonly usedInvites?: UsedInviteStore
}

/**
 * Single-use invites. Convos itself treats invites as reusable until the group's tag is rotated (see the research
 * notes: `expiresAfterUse` is in the payload but enforcing it is up to the creator), so enforcement lives here: one
 * single-use invite admits one person. That person may present it again (a retry, or a crash between recording the
 * use and adding them); anyone else is refused.
 */
export interface UsedInviteStore {
  /** Records that `inboxId` uses the invite; false when someone else already used it. */
  readonly claim: (inviteKey: string, inboxId: InboxId) => Effect.Effect<boolean, MessagingError>
  /** Forgets a claim whose join then failed, so the invite is still usable. */
  readonly release: (inviteKey: string) => Effect.Effect<void, MessagingError>
}

/** Identifies one invite: every slug has its own random token nonce, so the hash of the signed payload is unique. */
export const inviteKey = (invite: ParsedInvite): string => bytesToHex(sha256(invite.payloadBytes))

/** A UsedInviteStore kept in one JSON file (`{ "<invite key>": { "inboxId": …, "usedAt": … } }`), written atomically. */
export const usedInviteFileStore = (file: string): UsedInviteStore => {
  type Entries = Record<string, { readonly inboxId: string; readonly usedAt: string }>
  const storeError = (e: unknown) =>
    new MessagingError({
      reason: "invalid",
      message: `The used-invites ledger ${file} cannot be read or written: ${String(e)}`,
    })
  const load = (): Entries => (existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Entries) : {})
  const save = (entries: Entries) => {
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(`${file}.tmp`, JSON.stringify(entries, null, 1))
    renameSync(`${file}.tmp`, file)
  }
  return {
    claim: (key, inboxId) =>
      Effect.try({
        try: () => {
          const entries = load()
          const used = entries[key]
          if (used) return used.inboxId === inboxId
          save({ ...entries, [key]: { inboxId, usedAt: new Date().toISOString() } })
          return true
        },
        catch: storeError,
      }),
    release: (key) =>
      Effect.try({
        try: () => {
          const { [key]: _released, ...rest } = load()
          save(rest)
        },
        catch: storeError,
      }),
  }
}

const defaultUsedInvites = (me: MessagingIdentity) =>
  DataDir.pipe(
    Effect.map((dataDir) =>
      usedInviteFileStore(join(resolve(dataDir), "convos", "used-invites", `${me.inboxId}.json`)),
    ),
    Effect.mapError((e) => new MessagingError({ reason: "invalid", message: `Invalid DATA_DIR: ${e.message}` })),
  )

export class JoinRefused {
  readonly _tag = "JoinRefused"
  constructor(
    readonly errorType: JoinErrorType,
    readonly reason: string,
  ) {}
}

export type JoinOutcome =
  | { readonly _tag: "Ignored"; readonly why: string }
  | { readonly _tag: "Joined"; readonly groupId: string; readonly requesterInboxId: InboxId }
  | { readonly _tag: "Refused"; readonly errorType: JoinErrorType | "spam"; readonly reason: string }

/** Handles one message if it is a join request for one of `me`'s invites; anything else is Ignored. */
export const handleJoinRequest = (
  client: MessagingClient,
  me: MessagingIdentity,
  message: ChatMessage,
  options: InviteCreatorOptions = {},
) =>
  Effect.gen(function* () {
    if (message.senderInboxId === me.inboxId) return { _tag: "Ignored", why: "own message" } as JoinOutcome
    const conv = yield* client.conversation(message.conversationId)
    if (Option.isNone(conv) || conv.value.kind !== "dm") return { _tag: "Ignored", why: "not a DM" } as JoinOutcome
    const request = isType(message, JoinRequestType) ? readJoinRequest(message) : null
    const code = request?.inviteSlug ?? (message.text ? extractInviteCode(message.text) : null)
    if (!code) return { _tag: "Ignored", why: "no invite in it" } as JoinOutcome
    if (options.alreadyHandled && (yield* options.alreadyHandled(message.id)))
      return { _tag: "Ignored", why: "already handled" } as JoinOutcome
    // Joiners send the typed request and the bare slug as text (for older apps): the pair is one request.
    if (!request) {
      const recent = yield* client.messages(message.conversationId, { limit: 20 })
      const pairedTyped = recent.some(
        (m) =>
          m.id !== message.id &&
          m.senderInboxId === message.senderInboxId &&
          isType(m, JoinRequestType) &&
          readJoinRequest(m)?.inviteSlug === code &&
          Math.abs(m.sentAt.getTime() - message.sentAt.getTime()) < 5 * 60_000,
      )
      if (pairedTyped) return { _tag: "Ignored", why: "text copy of a typed join request" } as JoinOutcome
    }

    const refuse = (errorType: JoinErrorType, reason: string, tag: string) =>
      client
        .send(
          message.conversationId,
          joinErrorContent({ errorType, inviteTag: tag, timestamp: new Date().toISOString(), reason }),
        )
        .pipe(
          Effect.andThen(options.markHandled ? options.markHandled(message.id) : Effect.void),
          Effect.as({ _tag: "Refused", errorType, reason } as JoinOutcome),
        )

    let invite: ParsedInvite
    let conversationId: string
    try {
      // Signature and ownership first: error replies go only to invites I really made (no reflecting forged ones).
      invite = decodeInvite(code)
      conversationId = verifyOwnInvite(me, invite)
    } catch (e) {
      if (!(e instanceof InviteError)) throw e
      if (e.reason === "bad-signature" || e.reason === "undecryptable") {
        // Someone forged an invite in my name: treat the DM as spam, as the Convos app does.
        yield* client.setConsent(message.conversationId, "denied")
        if (options.markHandled) yield* options.markHandled(message.id)
        return { _tag: "Refused", errorType: "spam", reason: e.message } as JoinOutcome
      }
      if (e.reason === "malformed" || e.reason === "too-large") {
        // A join attempt with a damaged link (e.g. a broken %-escape): the joiner is told, in the protocol's error
        // reply, rather than left waiting. Its tag is unreadable, so the reply carries none; nothing of the input is
        // echoed back.
        return yield* refuse(
          "generic_failure",
          `The invite is ${e.reason === "malformed" ? "malformed" : "too large"}: ${e.message}`,
          "",
        )
      }
      // wrong-creator, not-an-invite: not a request for one of my invites.
      return { _tag: "Ignored", why: e.message } as JoinOutcome
    }
    try {
      checkInviteExpiry(invite)
    } catch (e) {
      if (!(e instanceof InviteError)) throw e
      return yield* refuse("conversation_expired", e.message, invite.payload.tag)
    }
    const tag = invite.payload.tag
    const ctx: JoinContext = {
      requesterInboxId: message.senderInboxId,
      invite,
      conversationId,
      request,
      messageId: message.id,
    }
    const routed = options.route ? yield* Effect.result(options.route(ctx)) : null
    if (routed && routed._tag === "Failure") {
      const f = routed.failure
      return yield* refuse(
        f instanceof JoinRefused ? f.errorType : "generic_failure",
        f instanceof JoinRefused ? f.reason : f.message,
        tag,
      )
    }
    const groupId = routed && routed._tag === "Success" ? routed.success : conversationId
    const group = yield* client.conversation(groupId)
    if (Option.isNone(group)) return yield* refuse("conversation_not_found", "That conversation no longer exists.", tag)
    if ((yield* client.consent(groupId)) === "denied")
      return yield* refuse("consent_not_allowed", "This conversation is not accepting new members.", tag)
    // Rotating the group's tag revokes every outstanding invite ("lock").
    if (decodeMetadata(group.value.appData)?.tag !== tag)
      return yield* refuse("conversation_expired", "This invite was revoked.", tag)
    const members = yield* client.members(groupId)
    if (!members.some((m) => m.inboxId === message.senderInboxId)) {
      const key = inviteKey(invite)
      const used = invite.payload.expiresAfterUse ? (options.usedInvites ?? (yield* defaultUsedInvites(me))) : null
      if (used && !(yield* used.claim(key, message.senderInboxId))) {
        return yield* refuse("conversation_expired", "This single-use invite was already used; ask for a new one.", tag)
      }
      const added = yield* Effect.result(client.addMembers(groupId, [message.senderInboxId]))
      if (added._tag === "Failure") {
        if (used) yield* used.release(key)
        yield* Effect.logWarning(
          `join request ${message.id}: adding ${message.senderInboxId} to ${groupId} failed`,
          added.failure,
        )
        // The joiner is untrusted: the reason names the failure kind, not the network's raw message.
        return yield* refuse(
          "generic_failure",
          `The invite's owner could not add you to the conversation (${added.failure.reason}); try again later.`,
          tag,
        )
      }
    }
    yield* client.setConsent(message.conversationId, "allowed")
    if (request) yield* client.send(message.conversationId, joinHandledContent(tag, message.id))
    if (options.markHandled) yield* options.markHandled(message.id)
    if (options.onJoined) yield* options.onJoined({ ...ctx, groupId })
    return { _tag: "Joined", groupId, requesterInboxId: message.senderInboxId } as JoinOutcome
  })

/** Serves join requests from the client's message stream until interrupted (for runtimes that only create invites). */
export const serveJoinRequests = (client: MessagingClient, me: MessagingIdentity, options: InviteCreatorOptions = {}) =>
  client
    .stream({ afterMs: Date.now() - 60_000 })
    .pipe(
      Stream.runForEach((m) =>
        handleJoinRequest(client, me, m, options).pipe(
          Effect.catchCause((cause) => Effect.logWarning(`join request ${m.id} could not be handled`, cause)),
        ),
      ),
    )
