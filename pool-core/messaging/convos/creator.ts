// Creator side of the Convos join protocol (what the Convos app does for invites it created): a join request arrives
// in a DM as a join_request (or the bare slug as text); it is verified and the requester is added to the group, or
// told in the DM why not. Lobby invites (the manager bot's public invite) let the app create a fresh private group per
// requester instead of adding everyone to one group.
import { Effect, Option, Stream } from "effect"
import type { ChatMessage, InboxId, MessagingClient, MessagingIdentity } from "../Messaging.ts"
import { MessagingError } from "../errors.ts"
import { joinErrorContent, joinHandledContent, type JoinErrorType, type JoinRequest, JoinRequestType, isType, readJoinRequest } from "./contentTypes.ts"
import { InviteError } from "./errors.ts"
import { decodeMetadata } from "./metadata.ts"
import { extractInviteCode, parseInvite, type ParsedInvite, verifyOwnInvite } from "./invite.ts"

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
}

export class JoinRefused {
  readonly _tag = "JoinRefused"
  constructor(readonly errorType: JoinErrorType, readonly reason: string) {}
}

export type JoinOutcome =
  | { readonly _tag: "Ignored"; readonly why: string }
  | { readonly _tag: "Joined"; readonly groupId: string; readonly requesterInboxId: InboxId }
  | { readonly _tag: "Refused"; readonly errorType: JoinErrorType | "spam"; readonly reason: string }

/** Handles one message if it is a join request for one of `me`'s invites; anything else is Ignored. */
export const handleJoinRequest = (client: MessagingClient, me: MessagingIdentity, message: ChatMessage, options: InviteCreatorOptions = {}) =>
  Effect.gen(function* () {
    if (message.senderInboxId === me.inboxId) return { _tag: "Ignored", why: "own message" } as JoinOutcome
    const conv = yield* client.conversation(message.conversationId)
    if (Option.isNone(conv) || conv.value.kind !== "dm") return { _tag: "Ignored", why: "not a DM" } as JoinOutcome
    const request = isType(message, JoinRequestType) ? readJoinRequest(message) : null
    const code = request?.inviteSlug ?? (message.text ? extractInviteCode(message.text) : null)
    if (!code) return { _tag: "Ignored", why: "no invite in it" } as JoinOutcome
    if (options.alreadyHandled && (yield* options.alreadyHandled(message.id))) return { _tag: "Ignored", why: "already handled" } as JoinOutcome
    // Joiners send the typed request and the bare slug as text (for older apps): the pair is one request.
    if (!request) {
      const recent = yield* client.messages(message.conversationId, { limit: 20 })
      const pairedTyped = recent.some(
        (m) => m.id !== message.id && m.senderInboxId === message.senderInboxId && isType(m, JoinRequestType) && readJoinRequest(m)?.inviteSlug === code &&
          Math.abs(m.sentAt.getTime() - message.sentAt.getTime()) < 5 * 60_000
      )
      if (pairedTyped) return { _tag: "Ignored", why: "text copy of a typed join request" } as JoinOutcome
    }

    const refuse = (errorType: JoinErrorType, reason: string, tag: string) =>
      client.send(message.conversationId, joinErrorContent({ errorType, inviteTag: tag, timestamp: new Date().toISOString(), reason })).pipe(
        Effect.andThen(options.markHandled ? options.markHandled(message.id) : Effect.void),
        Effect.as({ _tag: "Refused", errorType, reason } as JoinOutcome)
      )

    let invite: ParsedInvite
    let conversationId: string
    try {
      invite = parseInvite(code)
      conversationId = verifyOwnInvite(me, invite)
    } catch (e) {
      if (!(e instanceof InviteError)) throw e
      if (e.reason === "wrong-creator" || e.reason === "not-an-invite" || e.reason === "malformed") return { _tag: "Ignored", why: e.message } as JoinOutcome
      if (e.reason === "bad-signature" || e.reason === "undecryptable") {
        // Someone forged an invite in my name: treat the DM as spam, as the Convos app does.
        yield* client.setConsent(message.conversationId, "denied")
        if (options.markHandled) yield* options.markHandled(message.id)
        return { _tag: "Refused", errorType: "spam", reason: e.message } as JoinOutcome
      }
      return yield* refuse("conversation_expired", e.message, "")
    }
    const tag = invite.payload.tag
    const ctx: JoinContext = { requesterInboxId: message.senderInboxId, invite, conversationId, request, messageId: message.id }
    const routed = options.route ? yield* Effect.result(options.route(ctx)) : null
    if (routed && routed._tag === "Failure") {
      const f = routed.failure
      return yield* refuse(f instanceof JoinRefused ? f.errorType : "generic_failure", f instanceof JoinRefused ? f.reason : f.message, tag)
    }
    const groupId = routed && routed._tag === "Success" ? routed.success : conversationId
    const group = yield* client.conversation(groupId)
    if (Option.isNone(group)) return yield* refuse("conversation_not_found", "That conversation no longer exists.", tag)
    if ((yield* client.consent(groupId)) === "denied") return yield* refuse("consent_not_allowed", "This conversation is not accepting new members.", tag)
    // Rotating the group's tag revokes every outstanding invite ("lock").
    if (decodeMetadata(group.value.appData)?.tag !== tag) return yield* refuse("conversation_expired", "This invite was revoked.", tag)
    const members = yield* client.members(groupId)
    if (!members.some((m) => m.inboxId === message.senderInboxId)) {
      if (invite.payload.expiresAfterUse && members.length > 1 && !options.route) {
        return yield* refuse("conversation_expired", "This single-use invite was already used.", tag)
      }
      const added = yield* Effect.result(client.addMembers(groupId, [message.senderInboxId]))
      if (added._tag === "Failure") return yield* refuse("generic_failure", added.failure.message, tag)
    }
    yield* client.setConsent(message.conversationId, "allowed")
    if (request) yield* client.send(message.conversationId, joinHandledContent(tag, message.id))
    if (options.markHandled) yield* options.markHandled(message.id)
    if (options.onJoined) yield* options.onJoined({ ...ctx, groupId })
    return { _tag: "Joined", groupId, requesterInboxId: message.senderInboxId } as JoinOutcome
  })

/** Serves join requests from the client's message stream until interrupted (for runtimes that only create invites). */
export const serveJoinRequests = (client: MessagingClient, me: MessagingIdentity, options: InviteCreatorOptions = {}) =>
  client.stream({ afterMs: Date.now() - 60_000 }).pipe(
    Stream.runForEach((m) =>
      handleJoinRequest(client, me, m, options).pipe(
        Effect.catchCause((cause) => Effect.logWarning(`join request ${m.id} could not be handled`, cause))
      )
    )
  )
