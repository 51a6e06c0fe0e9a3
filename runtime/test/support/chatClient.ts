// A person on the devnet: joins an agent's conversation through its invite (Convos joiner) and exchanges messages.
import { Effect, Scope } from "effect"
import { generateIdentity, type MessagingClient, type MessagingIdentity } from "@convos-agents/messaging"
import { connectDevnet } from "@convos-agents/messaging"
import { joinByInvite } from "@convos-agents/messaging/convos"

export interface ChatPerson {
  readonly identity: MessagingIdentity
  readonly client: MessagingClient
}

export const connectPerson = (devnetUrl: string, label = "person"): Effect.Effect<ChatPerson, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const identity = generateIdentity()
    const client = yield* connectDevnet(devnetUrl, identity, label)
    return { identity, client }
  })

export const joinInvite = (p: ChatPerson, inviteUrl: string, timeoutMs = 30_000) =>
  joinByInvite(p.client, p.identity, inviteUrl, { profile: { name: "Ada", kind: "human" }, timeoutMs, pollMs: 200 })

/** Polls the conversation until a text from someone else matches, or fails after `timeoutMs`. */
export const waitForText = (
  p: ChatPerson,
  conversationId: string,
  match: (text: string) => boolean,
  afterMs: number,
  timeoutMs = 60_000,
) =>
  Effect.gen(function* () {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const messages = yield* p.client.messages(conversationId, { afterMs, limit: 100 })
      const hit = messages.find((m) => m.senderInboxId !== p.identity.inboxId && m.text !== null && match(m.text))
      if (hit) return hit.text!
      yield* Effect.sleep(250)
    }
    return yield* Effect.fail(new Error(`no matching reply in ${conversationId} within ${timeoutMs} ms`))
  })
