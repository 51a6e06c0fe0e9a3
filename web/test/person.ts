import { Effect, Scope } from "effect"
import { generateIdentity, Messaging } from "@convos-agents/messaging"
import {
  createInviteSlug,
  encodeMetadata,
  inviteUrlBase,
  randomTag,
  serveJoinRequests,
} from "@convos-agents/messaging/convos"
import type { Harness } from "./harness.ts"

/**
 * A person's own conversation on the devnet whose creator device lets joiners in while `scope` is open: its Convos
 * invite URL and the texts posted in it.
 */
export const personConversation = (h: Harness, scope: Scope.Scope, name = "Friends") =>
  h.run(
    Effect.gen(function* () {
      const messaging = yield* Messaging
      const me = generateIdentity()
      const client = yield* messaging.connect(me, { label: "person" })
      const tag = randomTag()
      const group = yield* client.createGroup([], { name, appData: encodeMetadata({ tag }) })
      yield* Effect.forkIn(serveJoinRequests(client, me), scope)
      const url = `${inviteUrlBase("dev")}${createInviteSlug(me, { conversationId: group.id, tag, name })}`
      return { url, texts: client.messages(group.id).pipe(Effect.map((ms) => ms.map((m) => m.text))) }
    }).pipe(Scope.provide(scope)),
  )
