import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ConfigProvider, Context, Effect, Latch, Layer, Scope, Stream } from "effect"
import {
  AgentResourcesNone,
  Compute,
  poolConfigLayer,
  PoolLive,
  type PoolSettings,
  ProviderError,
  RuntimeClient,
} from "@convos-agents/pool-core"
import { TestDatabase } from "@convos-agents/pool-core/testing/db"
import { MemoryCloud, memoryCloudLayer, type MemoryCloudOptions } from "@convos-agents/pool-core/testing/pool"
import { agentResourcesOverFakes, providerFakesLayer } from "@convos-agents/pool-core/testing/providers"
import { generateIdentity, Messaging, type MessagingClient, type MessagingIdentity } from "@convos-agents/messaging"
import { DevnetTest } from "@convos-agents/messaging/devnet/testing"
import { joinByInvite } from "@convos-agents/messaging/convos"
import { ManagerBot, ManagerBotLive } from "../src/ManagerBot.ts"
import { BotMigrations } from "../src/index.ts"

export const admin = generateIdentity()

const botConfig = (dataDir: string, env: Record<string, string>) =>
  ConfigProvider.layer(
    ConfigProvider.fromEnv({
      env: { DATA_DIR: dataDir, ADMIN_INBOX_IDS: admin.inboxId, ALERT_INTERVAL_MS: "600000", ...env },
    }),
  )

export type GatedCall = "provision" | "health" | "destroy"

/**
 * Test controls over the agents' runtime (the in-memory cloud's, with /join done for real on the devnet) and over
 * compute's destroy.
 */
export class AgentRuntime extends Context.Service<
  AgentRuntime,
  {
    /** Calls of that kind wait until `release` (a slow claim or a slow tick, for as long as the test wants). */
    readonly hold: (call: GatedCall) => Effect.Effect<void>
    readonly release: (call: GatedCall) => Effect.Effect<void>
    /** Calls waiting at that gate right now. */
    readonly waiting: (call: GatedCall) => number
    /** The devnet inbox an agent instance joins conversations with (after its first /join). */
    readonly agentInbox: (instanceId: string) => string | undefined
  }
>()("manager-bot/test/AgentRuntime") {}

/**
 * The in-memory cloud's runtime with two changes: provisions and health checks pass gates the test can close, and join really joins —
 * the agent gets its own devnet identity and goes through the Convos join protocol with the invite it is given.
 */
const agentRuntimeLayer = Layer.effectContext(
  Effect.gen(function* () {
    const base = yield* RuntimeClient
    const cloud = yield* MemoryCloud
    const messaging = yield* Messaging
    const scope = yield* Effect.scope
    const compute = yield* Compute
    const gates = { provision: Latch.makeUnsafe(true), health: Latch.makeUnsafe(true), destroy: Latch.makeUnsafe(true) }
    const waiting = { provision: 0, health: 0, destroy: 0 }
    const gated =
      (call: GatedCall) =>
      <A, E>(effect: Effect.Effect<A, E>) =>
        Effect.sync(() => void waiting[call]++).pipe(
          Effect.andThen(gates[call].await),
          Effect.ensuring(Effect.sync(() => void waiting[call]--)),
          Effect.andThen(effect),
        )
    const agents = new Map<string, { identity: MessagingIdentity; client: MessagingClient; joined: string[] }>()
    const agentOf = (instanceId: string) =>
      Effect.gen(function* () {
        const known = agents.get(instanceId)
        if (known) return known
        const identity = generateIdentity()
        const client = yield* messaging
          .connect(identity, { label: `agent-${instanceId.slice(0, 8)}` })
          .pipe(Scope.provide(scope))
        const agent = { identity, client, joined: [] as string[] }
        agents.set(instanceId, agent)
        return agent
      })
    const runtime = RuntimeClient.of({
      ...base,
      provision: (url, token, body) => gated("provision")(base.provision(url, token, body)),
      health: (url, token) => gated("health")(base.health(url, token)),
      join: (url, _token, inviteUrl) =>
        Effect.gen(function* () {
          const instanceId = url.replace("memory://", "")
          const name = cloud.instances.get(`mem-${instanceId}`)?.provisioned?.agentName ?? "Agent"
          const agent = yield* agentOf(instanceId)
          const joined = yield* joinByInvite(agent.client, agent.identity, inviteUrl, {
            profile: { name, kind: "agent" },
            timeoutMs: 10_000,
            pollMs: 100,
          })
          if (joined._tag === "Joined") agent.joined.push(joined.conversationId)
          return joined._tag === "Joined"
            ? { conversationId: joined.conversationId, inviteUrl: null, joined: true, pending: false }
            : { conversationId: "", inviteUrl: null, joined: false, pending: true }
        }).pipe(
          Effect.mapError(
            (e) =>
              new ProviderError({
                provider: "runtime",
                operation: "join",
                status: 400,
                retryable: false,
                message: `The agent instance refused join (HTTP 400): ${(e as { message?: string }).message ?? String(e)}.`,
              }),
          ),
        ),
    })
    // The conversations it joined for real are listed (with their devnet names) and left on the devnet, after the
    // in-memory cloud's own conversation.
    const runtimeWithLeave = RuntimeClient.of({
      ...runtime,
      conversations: (url, token) =>
        Effect.gen(function* () {
          const own = yield* base.conversations(url, token)
          const agent = agents.get(url.replace("memory://", ""))
          if (!agent) return own
          const joined = yield* Effect.forEach(agent.joined, (id) =>
            agent.client.conversation(id).pipe(
              Effect.map((c) => ({ id, name: c._tag === "Some" ? c.value.name : null })),
              Effect.orElseSucceed(() => ({ id, name: null })),
            ),
          )
          return [...own, ...joined]
        }),
      leave: (url, token, conversationId) => {
        const agent = agents.get(url.replace("memory://", ""))
        if (!agent?.joined.includes(conversationId)) return base.leave(url, token, conversationId)
        return agent.client.leave(conversationId).pipe(
          Effect.tap(() => Effect.sync(() => agent.joined.splice(agent.joined.indexOf(conversationId), 1))),
          Effect.mapError(
            (e) =>
              new ProviderError({
                provider: "runtime",
                operation: "leave",
                status: 409,
                retryable: false,
                message: `The agent instance refused leave (HTTP 409): ${e.message}.`,
              }),
          ),
        )
      },
    })
    const control = AgentRuntime.of({
      hold: (call) => Effect.asVoid(gates[call].close),
      release: (call) => Effect.asVoid(gates[call].open),
      waiting: (call) => waiting[call],
      agentInbox: (instanceId) => agents.get(instanceId)?.identity.inboxId,
    })
    // Compute's destroy passes its gate too (a release the test cuts midway).
    const gatedCompute = Compute.of({ ...compute, destroy: (ref) => gated("destroy")(compute.destroy(ref)) })
    return Context.make(RuntimeClient, runtimeWithLeave).pipe(
      Context.add(AgentRuntime, control),
      Context.add(Compute, gatedCompute),
    )
  }),
)

export interface BotTestOptions {
  /** Bot settings from the environment (COMMANDS_PER_MINUTE, ALERT_INTERVAL_MS …). */
  readonly env?: Record<string, string>
  readonly settings?: Partial<PoolSettings>
  readonly cloud?: MemoryCloudOptions
  /** The database (default TestDatabase), e.g. one behind a relay the test can cut. */
  readonly database?: typeof TestDatabase
  /** The messaging network (default DevnetTest), e.g. the bot's client through a relay that injects faults. */
  readonly messaging?: typeof DevnetTest
}

/**
 * The parts of a bot test: `deps` = pool (in-memory cloud, AgentRuntime controls) + devnet + database, and `bot` = the
 * real manager bot over them, separate so a test can stop and start the bot (a restart) over the same state.
 */
export const botTestParts = (options: BotTestOptions = {}) => {
  const dataDir = mkdtempSync(join(tmpdir(), "convos-bot-"))
  const deps = PoolLive.pipe(
    Layer.provideMerge(agentRuntimeLayer),
    Layer.provideMerge(memoryCloudLayer(options.cloud)),
    Layer.provideMerge(AgentResourcesNone),
    Layer.provideMerge(poolConfigLayer({ dataDir, ...options.settings })),
    Layer.provideMerge(withBotTables(options.database ?? TestDatabase)),
    Layer.provideMerge(options.messaging ?? DevnetTest),
  )
  const bot = ManagerBotLive.pipe(Layer.provide(botConfig(dataDir, options.env ?? {})))
  return { dataDir, deps, bot }
}

/** A test database migrated with the bot's tables as well as pool-core's. */
export const withBotTables = (database: typeof TestDatabase) => database.pipe(Layer.provide(BotMigrations))

/** Pool (in-memory cloud) + devnet + the real manager bot, with a private data dir and one admin. */
export const botTestLayer = (options: BotTestOptions = {}) => {
  const { deps, bot } = botTestParts(options)
  return bot.pipe(Layer.provideMerge(deps))
}

/** As botTestLayer, with live AgentResources over loopback provider APIs (claims create OpenRouter keys); exposes ProviderFakes. */
export const botWithProvidersTestLayer = (env: Record<string, string> = {}) => {
  const dataDir = mkdtempSync(join(tmpdir(), "convos-bot-"))
  const pool = PoolLive.pipe(
    Layer.provideMerge(memoryCloudLayer()),
    Layer.provideMerge(agentResourcesOverFakes),
    Layer.provideMerge(providerFakesLayer),
    Layer.provideMerge(poolConfigLayer({ dataDir })),
    Layer.provideMerge(withBotTables(TestDatabase)),
  )
  return ManagerBotLive.pipe(
    Layer.provideMerge(pool),
    Layer.provideMerge(DevnetTest),
    Layer.provide(botConfig(dataDir, env)),
  )
}

/** A scripted person with a real messaging client on the devnet. */
export interface Person {
  readonly id: MessagingIdentity
  readonly client: MessagingClient
  readonly chatId: string
  /** Sends a message and waits for `replies` answers from the bot (returns their texts). */
  readonly say: (text: string, replies?: number) => Effect.Effect<ReadonlyArray<string>, unknown>
  /** Sends all the texts without waiting, then waits for `replies` (default: one each) answers; returns them. */
  readonly sayAll: (
    texts: ReadonlyArray<string>,
    replies?: number,
    timeoutMs?: number,
  ) => Effect.Effect<ReadonlyArray<string>, unknown>
  /** Every text the bot sent in this chat so far (oldest first). */
  readonly botTexts: () => Effect.Effect<ReadonlyArray<string>, unknown>
  /** Waits until the bot has sent at least `count` texts in this chat (all of them, oldest first). */
  readonly waitForBotTexts: (count: number, timeoutMs?: number) => Effect.Effect<ReadonlyArray<string>, unknown>
}

export const openManagerChat = (name: string, url?: string, identity: MessagingIdentity = generateIdentity()) =>
  Effect.gen(function* () {
    const messaging = yield* Messaging
    const bot = yield* ManagerBot
    const client = yield* messaging.connect(identity, { label: name })
    const joined = yield* joinByInvite(client, identity, url ?? bot.inviteUrl(), {
      profile: { name, kind: "human" },
      timeoutMs: 10_000,
      pollMs: 100,
    })
    if (joined._tag !== "Joined")
      return yield* Effect.fail(new Error(`${name} could not open the manager chat: ${joined._tag}`))
    const chatId = joined.conversationId
    // The bot's texts in this chat as they arrive on the person's own message stream (each message once, in order):
    // no polling of the whole history, which gets slow when people send 100 KB messages.
    const received: string[] = []
    yield* client.stream({ afterMs: 0 }).pipe(
      Stream.runForEach((m) =>
        Effect.sync(
          () =>
            void (
              m.conversationId === chatId &&
              m.senderInboxId === bot.inboxId &&
              m.text !== null &&
              received.push(m.text)
            ),
        ),
      ),
      Effect.forkScoped,
    )
    const botTexts = () => Effect.sync(() => [...received] as ReadonlyArray<string>)
    const waitForBotTexts = (count: number, timeoutMs = 15_000) =>
      Effect.gen(function* () {
        const deadline = Date.now() + timeoutMs
        for (;;) {
          if (received.length >= count) return [...received]
          if (Date.now() > deadline)
            return yield* Effect.fail(
              new Error(`the bot sent ${received.length} of ${count} messages in ${timeoutMs} ms`),
            )
          yield* Effect.sleep(20)
        }
      })
    const sayAll = (texts: ReadonlyArray<string>, replies = texts.length, timeoutMs = 15_000) =>
      Effect.gen(function* () {
        const before = (yield* botTexts()).length
        for (const text of texts) yield* client.sendText(chatId, text)
        return (yield* waitForBotTexts(before + replies, timeoutMs)).slice(before)
      })
    const say = (text: string, replies = 1) =>
      sayAll([text], replies).pipe(
        Effect.mapError((e) => new Error(`no reply to "${text.slice(0, 40)}": ${(e as Error).message}`)),
      )
    // The bot greets right after adding the person; wait for it so the greeting never counts as a reply.
    for (let i = 0; i < 200 && (yield* botTexts()).length === 0; i++) yield* Effect.sleep(25)
    return { id: identity, client, chatId, say, sayAll, botTexts, waitForBotTexts } satisfies Person
  })
