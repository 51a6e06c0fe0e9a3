// Conversations the agent creates through POST /convos/conversation, each with its own messaging identity (the seed's
// "one identity per conversation", Convos ADR 002): a member of one cannot tell it is the same agent as in another,
// and each conversation carries its own instructions into the agent's turns there. Each identity has its own client
// and message stream (serving join requests for its invite, handing text to the agent), kept in the agent state so a
// restart brings them back.
import { Clock, Effect, Exit, Scope, Stream } from "effect"
import {
  type ChatMessage,
  generateIdentity,
  identityFromPrivateKey,
  type Messaging,
  type MessagingClient,
  type MessagingError,
  type OutgoingContent,
} from "@convos-agents/messaging"
import {
  createInviteSlug,
  encodeMetadata,
  handleJoinRequest,
  inviteUrlBase,
  randomTag,
} from "@convos-agents/messaging/convos"
import type { InboundText } from "./ConvosAgent.ts"
import { type ReconnectPolicy, reconnectSchedule } from "./reconnect.ts"

/** One conversation the agent created with its own identity (persisted in the agent state). */
export interface OwnConversation {
  readonly conversationId: string
  readonly privateKey: `0x${string}`
  readonly inboxId: string
  readonly name: string
  /** Instructions for the agent's turns in this conversation only ("" for none). */
  readonly instructions: string
  readonly inviteUrl: string
  readonly lastSeenMs: number
}

export type OwnConversationText = InboundText & { readonly instructions: string }

export interface OwnConversationDeps {
  readonly messaging: Messaging["Service"]
  readonly scope: Scope.Scope
  readonly inviteBaseUrl?: string
  readonly reconnect?: ReconnectPolicy
  readonly agentName: () => string
  /** The agent's ProfileUpdate for a conversation (name, and its picture encrypted for that group: avatar.ts). */
  readonly profile: (client: MessagingClient, conversationId: string) => Effect.Effect<OutgoingContent>
  readonly greeting: (agentName: string) => string
  readonly onText: (message: OwnConversationText) => Effect.Effect<void>
  /** False once the agent left the conversation: its stream is then ignored. */
  readonly isActive: (conversationId: string) => boolean
  /** Records the stream's resume point for the conversation. */
  readonly seen: (conversationId: string, atMs: number) => Effect.Effect<void>
}

/** Connects the conversation's identity (after a restart) and serves it; returns its client. */
export const reconnectOwnConversation = (deps: OwnConversationDeps, conversation: OwnConversation) =>
  deps.messaging.connect(identityFromPrivateKey(conversation.privateKey), { label: conversation.name }).pipe(
    Scope.provide(deps.scope),
    Effect.tap((client) => serveOwnConversation(deps, conversation, client)),
  )

/** Serves the conversation's stream with its own client for the lifetime of the scope. */
export const serveOwnConversation = (
  deps: OwnConversationDeps,
  conversation: OwnConversation,
  client: MessagingClient,
) =>
  Effect.gen(function* () {
    const identity = identityFromPrivateKey(conversation.privateKey)
    let lastSeenMs = conversation.lastSeenMs
    const handle = (m: ChatMessage) =>
      Effect.gen(function* () {
        if (m.senderInboxId === identity.inboxId || !deps.isActive(conversation.conversationId)) return
        if (m.conversationId === conversation.conversationId) {
          if (m.kind === "application" && m.text !== null && m.contentType.typeId === "text") {
            const text = {
              id: m.id,
              conversationId: m.conversationId,
              senderInboxId: m.senderInboxId,
              text: m.text,
              sentAt: m.sentAt,
              instructions: conversation.instructions,
            }
            yield* deps.onText(text).pipe(Effect.forkIn(deps.scope))
          }
        } else {
          yield* handleJoinRequest(client, identity, m, {
            onJoined: ({ groupId }) =>
              deps.profile(client, groupId).pipe(
                Effect.flatMap((p) => client.send(groupId, p)),
                Effect.andThen(client.sendText(groupId, deps.greeting(deps.agentName()))),
                Effect.asVoid,
              ),
          })
        }
        if (m.sentAt.getTime() > lastSeenMs) {
          lastSeenMs = m.sentAt.getTime()
          yield* deps.seen(conversation.conversationId, lastSeenMs)
        }
      }).pipe(
        Effect.catchCause((cause) =>
          Effect.logWarning(
            `message ${m.id} in conversation ${conversation.conversationId} could not be handled`,
            cause,
          ),
        ),
      )
    const serve = Effect.suspend(() => client.stream({ afterMs: lastSeenMs }).pipe(Stream.runForEach(handle))).pipe(
      Effect.exit,
      Effect.tap((exit) =>
        Exit.isFailure(exit)
          ? Effect.logError(
              `conversation ${conversation.conversationId}: message stream stopped; restarting it`,
              exit.cause,
            )
          : Effect.void,
      ),
      Effect.repeat(reconnectSchedule(deps.reconnect)),
    )
    yield* serve.pipe(Effect.forkIn(deps.scope))
  })

/** A new identity, its group (named `name`) and a signed invite for it. */
export const createOwnConversation = (
  deps: OwnConversationDeps,
  name: string,
  instructions: string,
): Effect.Effect<{ conversation: OwnConversation; client: MessagingClient }, MessagingError> =>
  Effect.gen(function* () {
    const identity = generateIdentity()
    const client = yield* deps.messaging.connect(identity, { label: name }).pipe(Scope.provide(deps.scope))
    const tag = randomTag()
    const group = yield* client.createGroup([], { name, appData: encodeMetadata({ tag }) })
    yield* deps.profile(client, group.id).pipe(
      Effect.flatMap((p) => client.send(group.id, p)),
      Effect.ignore,
    )
    const inviteUrl =
      inviteUrlBase(deps.messaging.network, deps.inviteBaseUrl) +
      createInviteSlug(identity, { conversationId: group.id, tag, name })
    const now = yield* Clock.currentTimeMillis
    return {
      conversation: {
        conversationId: group.id,
        privateKey: identity.privateKey,
        inboxId: identity.inboxId,
        name,
        instructions,
        inviteUrl,
        lastSeenMs: now,
      },
      client,
    }
  })
