import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ConfigProvider, Effect, Layer } from "effect"
import { poolConfigLayer, PoolLive } from "@convos-agents/pool-core"
import { TestDatabase } from "@convos-agents/pool-core/db/testing.ts"
import { memoryCloudLayer, PoolTest } from "@convos-agents/pool-core/pool/testing.ts"
import { agentResourcesOverFakes, providerFakesLayer } from "@convos-agents/pool-core/providers/resources/testing.ts"
import { generateIdentity, Messaging, type MessagingClient, type MessagingIdentity } from "@convos-agents/pool-core/messaging"
import { DevnetTest } from "@convos-agents/pool-core/messaging/devnet/testing.ts"
import { joinByInvite } from "@convos-agents/pool-core/convos"
import { ManagerBot, ManagerBotLive } from "../src/ManagerBot.ts"

export const admin = generateIdentity()

const botConfig = (dataDir: string, env: Record<string, string>) =>
  ConfigProvider.layer(ConfigProvider.fromEnv({ env: { DATA_DIR: dataDir, ADMIN_INBOX_IDS: admin.inboxId, ALERT_INTERVAL_MS: "600000", ...env } }))

/** Pool (in-memory cloud) + devnet + the real manager bot, with a private data dir and one admin. */
export const botTestLayer = (env: Record<string, string> = {}) => {
  const dataDir = mkdtempSync(join(tmpdir(), "convos-bot-"))
  return ManagerBotLive.pipe(
    Layer.provideMerge(PoolTest({ settings: { dataDir } })),
    Layer.provideMerge(DevnetTest),
    Layer.provide(botConfig(dataDir, env))
  )
}

/** As botTestLayer, with live AgentResources over loopback provider APIs (claims create OpenRouter keys); exposes ProviderFakes. */
export const botWithProvidersTestLayer = (env: Record<string, string> = {}) => {
  const dataDir = mkdtempSync(join(tmpdir(), "convos-bot-"))
  const pool = PoolLive.pipe(
    Layer.provideMerge(memoryCloudLayer()),
    Layer.provideMerge(agentResourcesOverFakes),
    Layer.provideMerge(providerFakesLayer),
    Layer.provideMerge(poolConfigLayer({ dataDir })),
    Layer.provideMerge(TestDatabase)
  )
  return ManagerBotLive.pipe(Layer.provideMerge(pool), Layer.provideMerge(DevnetTest), Layer.provide(botConfig(dataDir, env)))
}

/** A scripted person with a real messaging client on the devnet. */
export interface Person {
  readonly id: MessagingIdentity
  readonly client: MessagingClient
  readonly chatId: string
  /** Sends a message and waits for `replies` answers from the bot (returns their texts). */
  readonly say: (text: string, replies?: number) => Effect.Effect<ReadonlyArray<string>, unknown>
}

export const openManagerChat = (name: string, url?: string, identity: MessagingIdentity = generateIdentity()) =>
  Effect.gen(function* () {
    const messaging = yield* Messaging
    const bot = yield* ManagerBot
    const client = yield* messaging.connect(identity, { label: name })
    const joined = yield* joinByInvite(client, identity, url ?? bot.inviteUrl(), { profile: { name, kind: "human" }, timeoutMs: 10_000, pollMs: 100 })
    if (joined._tag !== "Joined") return yield* Effect.fail(new Error(`${name} could not open the manager chat: ${joined._tag}`))
    const chatId = joined.conversationId
    const botTexts = () =>
      client.messages(chatId, { limit: 500 }).pipe(Effect.map((ms) => ms.filter((m) => m.senderInboxId === bot.inboxId && m.text !== null).map((m) => m.text!)))
    const say = (text: string, replies = 1) =>
      Effect.gen(function* () {
        const before = (yield* botTexts()).length
        yield* client.sendText(chatId, text)
        const deadline = Date.now() + 15_000
        for (;;) {
          const all = yield* botTexts()
          if (all.length >= before + replies) return all.slice(before)
          if (Date.now() > deadline) return yield* Effect.fail(new Error(`no reply to "${text.slice(0, 40)}" (got ${all.length - before} of ${replies})`))
          yield* Effect.sleep(50)
        }
      })
    // The bot greets right after adding the person; wait for it so the greeting never counts as a reply.
    for (let i = 0; i < 200 && (yield* botTexts()).length === 0; i++) yield* Effect.sleep(25)
    return { id: identity, client, chatId, say } satisfies Person
  })
