// The chat's use of the Convos protocol (messaging/convos): join by invite, profile names.
import { Effect } from "effect"
import { MessagingError } from "../errors.ts"
import type { ChatMessage, MessagingClient, MessagingIdentity } from "../Messaging.ts"
import { displayNames, joinByInvite as convosJoin, profileUpdateContent, readProfileUpdate } from "../convos/index.ts"

/** Joins like a person in the Convos app; resolves with the conversation id or fails saying what to do. */
export const joinByInvite = (
  client: MessagingClient,
  me: MessagingIdentity,
  invite: string,
  o: { name: string; timeoutMs: number },
): Effect.Effect<string, MessagingError> =>
  convosJoin(client, me, invite, { profile: { name: o.name, kind: "human" }, timeoutMs: o.timeoutMs }).pipe(
    Effect.mapError((e) =>
      e instanceof MessagingError
        ? e
        : new MessagingError({
            reason: "join-failed",
            message: `Could not join: ${(e as { message?: string }).message ?? String(e)}`,
          }),
    ),
    Effect.flatMap((r) =>
      r._tag === "Joined"
        ? Effect.succeed(r.conversationId)
        : Effect.fail(
            new MessagingError({
              reason: "pending",
              message:
                "The invite's owner has not let you in yet (their app may be offline); run the same command again later.",
            }),
          ),
    ),
  )

export const profileNameOf = (m: ChatMessage): string | undefined => {
  const p = readProfileUpdate(m)
  return p ? (p.name ?? undefined) : undefined
}

/** Names known from the conversation's visible history. */
export const knownNames = (client: MessagingClient, conversationId: string) =>
  Effect.map(client.messages(conversationId), displayNames)

/** Sends our profile name unless the conversation already shows it for us (the joiner sends it on first join). */
export const announceProfile = (
  client: MessagingClient,
  conversationId: string,
  name: string,
  names: ReadonlyMap<string, string>,
): Effect.Effect<void, MessagingError> =>
  names.get(client.inboxId) === name
    ? Effect.void
    : Effect.asVoid(client.send(conversationId, profileUpdateContent(name, "human")))
