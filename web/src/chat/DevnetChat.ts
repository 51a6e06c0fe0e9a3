import { Effect, Exit, Option, Schema, Scope, Semaphore } from "effect"
import {
  generateIdentity,
  Messaging,
  type ChatMessage,
  type MessagingClient,
  type MessagingIdentity,
} from "@convos-agents/messaging"
import { displayNames, joinByInvite, shortInboxId } from "@convos-agents/messaging/convos"

// The devnet browser chat: each web visitor gets their own messaging identity (kept for the life of the app, in memory)
// and joins conversations by invite exactly as a phone would (Convos join protocol over the devnet). Only for devnet:
// on XMTP a server-held identity would be a person's account, which this page must never be.

export class ChatError extends Schema.TaggedError<ChatError>()("ChatError", {
  /** "bad-invite" (400), "not-member" (403), "unavailable" (503), "failed" (502) */
  reason: Schema.Literals(["bad-invite", "not-member", "unavailable", "failed"]),
  message: Schema.String,
}) {}

export interface ChatLine {
  readonly id: string
  readonly senderName: string
  readonly mine: boolean
  readonly text: string
  readonly sentAt: Date
  readonly system: boolean
}

export interface ChatView {
  readonly conversationId: string
  readonly title: string
  readonly lines: ReadonlyArray<ChatLine>
}

export type JoinOutcome = { readonly _tag: "Joined"; readonly conversationId: string } | { readonly _tag: "Pending" }

interface Session {
  readonly identity: MessagingIdentity
  readonly client: MessagingClient
  readonly name: string
}

export interface DevnetChatOptions {
  /** How long one join waits for the invite's owner to let the visitor in before answering "pending". */
  readonly joinTimeoutMs?: number
  /** Visitors kept connected at most; the least recently seen is disconnected first. */
  readonly maxSessions?: number
}

const failed = (e: { readonly message: string }) =>
  new ChatError({ reason: "failed", message: `The devnet did not answer: ${e.message}. Try again.` })

/** Builds the chat over the ambient Messaging; every visitor connection closes with the enclosing scope. */
export const makeDevnetChat = (options: DevnetChatOptions = {}) =>
  Effect.gen(function* () {
    const messaging = yield* Messaging
    const appScope = yield* Effect.scope
    const sessions = new Map<string, { session: Session; scope: Scope.Closeable }>()
    const lock = yield* Semaphore.make(1)
    const maxSessions = options.maxSessions ?? 500

    yield* Effect.addFinalizer(() =>
      Effect.forEach([...sessions.values()], (s) => Scope.close(s.scope, Exit.void), { discard: true }),
    )

    const session = (visitor: string) =>
      lock.withPermit(
        Effect.gen(function* () {
          const found = sessions.get(visitor)
          if (found) {
            sessions.delete(visitor)
            sessions.set(visitor, found) // most recently seen last
            return found.session
          }
          if (sessions.size >= maxSessions) {
            const [oldestKey, oldest] = sessions.entries().next().value!
            sessions.delete(oldestKey)
            yield* Scope.close(oldest.scope, Exit.void)
          }
          const identity = generateIdentity()
          const scope = yield* Scope.fork(appScope)
          const client = yield* messaging.connect(identity, { label: `web-${visitor.slice(0, 6)}` }).pipe(
            Scope.provide(scope),
            Effect.tapError(() => Scope.close(scope, Exit.void)),
            Effect.mapError(failed),
          )
          const created: Session = { identity, client, name: `Web visitor ${identity.inboxId.slice(0, 4)}` }
          sessions.set(visitor, { session: created, scope })
          return created
        }),
      )

    const join = (visitor: string, inviteUrl: string): Effect.Effect<JoinOutcome, ChatError> =>
      Effect.gen(function* () {
        const s = yield* session(visitor)
        const result = yield* joinByInvite(s.client, s.identity, inviteUrl, {
          profile: { name: s.name, kind: "human" },
          timeoutMs: options.joinTimeoutMs ?? 20_000,
        }).pipe(
          Effect.mapError((e) =>
            e._tag === "InviteError"
              ? new ChatError({ reason: "bad-invite", message: e.message })
              : e._tag === "JoinFailed"
                ? new ChatError({ reason: "failed", message: e.message })
                : failed(e),
          ),
        )
        return result._tag === "Joined"
          ? { _tag: "Joined", conversationId: result.conversationId }
          : { _tag: "Pending" }
      })

    const memberSession = (visitor: string, conversationId: string) =>
      Effect.gen(function* () {
        const s = yield* session(visitor)
        const info = yield* s.client.conversation(conversationId).pipe(Effect.mapError(failed))
        if (Option.isNone(info)) {
          return yield* new ChatError({
            reason: "not-member",
            message: "You are not in this conversation: open its invite link first.",
          })
        }
        return { s, info: info.value }
      })

    const toLine =
      (s: Session, names: Map<string, string>) =>
      (m: ChatMessage): ChatLine | null => {
        const name = (inbox: string) =>
          inbox === s.identity.inboxId ? "You" : (names.get(inbox) ?? shortInboxId(inbox))
        if (m.kind === "membership_change" && m.membership) {
          const who = [
            ...m.membership.added.map((i) => `${name(i)} joined`),
            ...m.membership.removed.map((i) => `${name(i)} left`),
          ]
          return who.length
            ? { id: m.id, senderName: "", mine: false, text: who.join(", "), sentAt: m.sentAt, system: true }
            : null
        }
        if (m.text === null) return null // profile updates, join requests …: not chat lines
        return {
          id: m.id,
          senderName: name(m.senderInboxId),
          mine: m.senderInboxId === s.identity.inboxId,
          text: m.text,
          sentAt: m.sentAt,
          system: false,
        }
      }

    const view = (visitor: string, conversationId: string): Effect.Effect<ChatView, ChatError> =>
      Effect.gen(function* () {
        const { s, info } = yield* memberSession(visitor, conversationId)
        const messages = yield* s.client.messages(conversationId, { limit: 200 }).pipe(Effect.mapError(failed))
        const names = displayNames(messages)
        const lines = messages.map(toLine(s, names)).filter((l): l is ChatLine => l !== null)
        return { conversationId, title: info.name ?? "Conversation", lines }
      })

    const send = (visitor: string, conversationId: string, text: string): Effect.Effect<void, ChatError> =>
      Effect.gen(function* () {
        const { s } = yield* memberSession(visitor, conversationId)
        yield* s.client.sendText(conversationId, text).pipe(Effect.mapError(failed))
      })

    return { join, view, send }
  })

export type DevnetChat = Effect.Success<ReturnType<typeof makeDevnetChat>>
