import { Effect, Option } from "effect"
import { Messaging, type MessagingIdentity } from "@convos-agents/messaging"
import { loadOrCreateLocalOperator, operatorFile } from "@convos-agents/messaging/chat/operator"
import { InvalidConfig } from "@convos-agents/pool-core"

/**
 * The local operator (messaging/chat/operator.ts): on the devnet only, an identity kept in DATA_DIR, registered on the
 * network so the bot can add it to the ops chat, and recorded as admitted there for `npm run chat -- --ops`. On XMTP
 * there is none, whatever DATA_DIR holds: admins are ADMIN_INBOX_IDS alone.
 */
export const localOperator = (dataDir: string, opsConversationId: string) =>
  Effect.gen(function* () {
    const messaging = yield* Messaging
    if (messaging.network !== "devnet") return Option.none<MessagingIdentity>()
    const operator = yield* Effect.try({
      try: () => loadOrCreateLocalOperator(dataDir, opsConversationId),
      catch: (e) =>
        new InvalidConfig({
          variable: "DATA_DIR",
          message: `The local operator file ${operatorFile(dataDir)} is not usable: ${e instanceof Error ? e.message : String(e)}. Delete it to make a new operator.`,
        }),
    })
    // A devnet inbox exists once it has connected; the bot can add it to the ops chat after that.
    yield* Effect.scoped(messaging.connect(operator, { label: "local operator" }))
    return Option.some(operator)
  })
