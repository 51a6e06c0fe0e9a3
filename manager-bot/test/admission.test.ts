import { readFileSync } from "node:fs"
import { join } from "node:path"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { generateIdentity, identityFromPrivateKey, Messaging } from "@convos-agents/messaging"
import {
  createInviteSlug,
  decodeMetadata,
  inviteUrlBase,
  joinByInvite,
  type JoinFailed,
} from "@convos-agents/messaging/convos"
import { ManagerBot } from "../src/ManagerBot.ts"
import { admin, botTestParts, openManagerChat } from "./helpers.ts"

// Who the bot lets into which chat. Its manager-chat invites (signed by the bot, naming one person's chat) admit only
// that chat's owner: a stranger holding such a link is refused and the chat keeps its two members. The ops chat's own
// id in a bot-signed invite is the ops chat: admins only.

const parts = botTestParts()
const botKey = () =>
  identityFromPrivateKey(
    (JSON.parse(readFileSync(join(parts.dataDir, "manager-identity.json"), "utf8")) as { privateKey: `0x${string}` })
      .privateKey,
  )

/** Joins like the Convos app; the outcome, or the refusal the bot sent back. */
const tryJoin = (name: string, url: string) =>
  Effect.gen(function* () {
    const messaging = yield* Messaging
    const me = generateIdentity()
    const client = yield* messaging.connect(me, { label: name })
    const outcome = yield* joinByInvite(client, me, url, {
      profile: { name, kind: "human" },
      timeoutMs: 10_000,
      pollMs: 100,
    }).pipe(Effect.catchTag("JoinFailed", (e: JoinFailed) => Effect.succeed({ _tag: "Refused" as const, e })))
    return { me, outcome }
  })

layer(parts.bot.pipe(Layer.provideMerge(parts.deps)), { timeout: "120 seconds", excludeTestServices: true })(
  "manager bot: who may join which chat",
  (it) => {
    it.effect(
      "a stranger holding a bot-signed invite to someone's manager chat is refused, and so is a non-admin holding one to the ops chat",
      () =>
        Effect.gen(function* () {
          const bot = yield* ManagerBot
          const ann = yield* openManagerChat("Ann")
          const chat = Option.getOrThrow(yield* ann.client.conversation(ann.chatId))
          const tag = decodeMetadata(chat.appData)!.tag
          // A link to Ann's own chat, signed by the bot with the chat's current tag (as a share of that chat would be).
          const link =
            inviteUrlBase("dev") +
            createInviteSlug(botKey(), { conversationId: ann.chatId, tag, name: "Agent manager" })
          const { me: eve, outcome } = yield* tryJoin("Eve", link)
          assert.strictEqual(outcome._tag, "Refused")
          if (outcome._tag === "Refused") assert.include(outcome.e.message, "someone else's private chat")
          const members = (yield* ann.client.members(ann.chatId)).map((m) => m.inboxId).sort()
          assert.deepStrictEqual(members, [ann.id.inboxId, bot.inboxId].sort())
          assert.notInclude(members, eve.inboxId)
          // The ops chat's id in a bot-signed invite is not a way around the admin check.
          const opsTag = yield* Effect.gen(function* () {
            const ops = yield* openManagerChat("Admin", bot.opsInviteUrl, admin)
            return decodeMetadata(Option.getOrThrow(yield* ops.client.conversation(ops.chatId)).appData)!.tag
          })
          const opsLink =
            inviteUrlBase("dev") + createInviteSlug(botKey(), { conversationId: bot.opsConversationId, tag: opsTag })
          const mallory = yield* tryJoin("Mallory", opsLink)
          assert.strictEqual(mallory.outcome._tag, "Refused")
          if (mallory.outcome._tag === "Refused") assert.include(mallory.outcome.e.message, "Only admins")
        }),
    )
  },
)
