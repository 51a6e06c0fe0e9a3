// The agent leaves one of its conversations (POST /convos/leave): the network removes it for the other members
// (Messaging.leave), and the agent forgets the conversation so it stops answering there at once, even while an XMTP
// leave request waits for an admin's commit. Its own conversation gone, its invite goes too (the pool stops showing it).
import { Effect } from "effect"
import type { MessagingClient, MessagingError } from "@convos-agents/messaging"
import { CannotLeave, MessagingUnavailable, UnknownConversation } from "./errors.ts"
import type { AgentState } from "./state.ts"

export interface LeaveDeps {
  readonly state: () => AgentState
  readonly save: (next: AgentState) => Effect.Effect<void>
  readonly client: MessagingClient
  /** Clients of the conversations made with their own identity (ownConversations.ts). */
  readonly ownClients: ReadonlyMap<string, MessagingClient>
}

/** Every conversation the agent is in: those of its main identity (its own first), then those with their own one. */
export const conversationIds = (s: AgentState): ReadonlyArray<string> => [
  ...s.conversations,
  ...(s.ownConversations ?? []).map((c) => c.conversationId),
]

/** Names as the network has them (null when it has none or did not answer: the list never fails on a name). */
export const listConversations = (deps: LeaveDeps) =>
  Effect.suspend(() =>
    Effect.forEach(conversationIds(deps.state()), (id) =>
      (deps.ownClients.get(id) ?? deps.client).conversation(id).pipe(
        Effect.map((info) => ({ id, name: info._tag === "Some" ? info.value.name : null })),
        Effect.orElseSucceed(() => ({ id, name: null as string | null })),
      ),
    ),
  )

const refused =
  (conversationId: string) =>
  (e: MessagingError): Effect.Effect<void, CannotLeave | MessagingUnavailable> =>
    e.reason === "invalid" || e.reason === "forbidden"
      ? Effect.fail(new CannotLeave({ message: `The agent cannot leave conversation ${conversationId}: ${e.message}` }))
      : // Already removed by someone else: what is left is to forget it.
        e.reason === "not-member"
        ? Effect.void
        : Effect.fail(
            new MessagingUnavailable({
              message: `Messaging failed: ${e.message}. Check DEVNET_URL / XMTP_ENV and retry.`,
            }),
          )

export const leaveConversation = (deps: LeaveDeps, conversationId: string) =>
  Effect.gen(function* () {
    const s = deps.state()
    if (!conversationIds(s).includes(conversationId))
      return yield* new UnknownConversation({
        conversationId,
        message: `The agent is not in conversation ${conversationId}; GET /convos/conversations lists the ones it is in.`,
      })
    yield* (deps.ownClients.get(conversationId) ?? deps.client)
      .leave(conversationId)
      .pipe(Effect.catch(refused(conversationId)))
    const now = deps.state()
    const wasOwn = now.conversationId === conversationId
    yield* deps.save({
      ...now,
      conversations: now.conversations.filter((id) => id !== conversationId),
      ...(now.ownConversations
        ? { ownConversations: now.ownConversations.filter((c) => c.conversationId !== conversationId) }
        : {}),
      ...(wasOwn ? { conversationId: null, inviteUrl: null, inviteTag: null } : {}),
    })
    return { left: conversationId }
  })
