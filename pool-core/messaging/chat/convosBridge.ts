// The chat's use of the Convos protocol (H2b's pool-core/messaging/convos): join by invite, profile names.
import { Effect } from "effect"
import { MessagingError } from "../errors.ts"
import type { ChatMessage, MessagingClient } from "../Messaging.ts"

export const joinByInvite = (_client: MessagingClient, _invite: string, _o: { name: string; timeoutMs: number }): Effect.Effect<string, MessagingError> =>
  Effect.fail(new MessagingError({ reason: "unavailable", message: "Joining by invite needs the Convos join protocol (pool-core/messaging/convos), which is not in this build yet; use --conversation <id>." }))

export const profileNameOf = (_m: ChatMessage): string | undefined => undefined

export const announceProfile = (_client: MessagingClient, _conversationId: string, _name: string): Effect.Effect<void, MessagingError> => Effect.void
