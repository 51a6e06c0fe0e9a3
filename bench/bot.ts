// npm run bench:bot — the manager bot, two ways:
// 1. Router: commands/s through ManagerRouter.handle (parse → scope check → handler → reply) with a realistic mix
//    (help, plain-word aliases, /agents, /templates, /invite, /name, /instruct, refused ops commands, unknown input,
//    garbage) from many people at once, each of whom owns an agent claimed through the /new dialog first. The pool is
//    the real PoolLive on real Postgres (in-memory compute), so /agents, /name … are real SQL.
// 2. Devnet: the whole bot (ManagerBotLive) on a devnet server; scripted people open their manager chat through the
//    bot's lobby invite and send commands one at a time; latency = send → the bot's reply to that very command
//    (matched by its text) arrives on the person's message stream (same process clock); a missing reply is a miss.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ConfigProvider, Duration, Effect, Layer, Option, Queue, Stream } from "effect"
import { Pool } from "../pool-core/pool/Pool.ts"
import { PoolTest } from "../pool-core/pool/testing.ts"
import { generateIdentity, Messaging } from "../messaging/index.ts"
import { DevnetTest } from "../messaging/devnet/testing.ts"
import { joinByInvite } from "../messaging/convos/index.ts"
import { makeBotPipeline, repliesTo } from "../manager-bot/src/bot/pipeline.ts"
import type { Incoming } from "../manager-bot/src/bot/context.ts"
import { Dialogs } from "../manager-bot/src/dialogs/Dialogs.ts"
import { ManagerBot, ManagerBotLive } from "../manager-bot/src/ManagerBot.ts"
import { BotMigrations } from "../manager-bot/src/index.ts"
import { TestDatabase } from "../pool-core/db/testing.ts"
import { percentileMeasures, reportBench, type Measure } from "./lib.ts"

process.env.TEST_DATABASE_URL ??= process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
process.env.DB_MAX_CONNECTIONS ??= "20"
const PEOPLE = Number(process.env.BENCH_BOT_PEOPLE ?? 64)
const COMMANDS = Number(process.env.BENCH_BOT_COMMANDS ?? 20_000)
const CONCURRENCY = Number(process.env.BENCH_BOT_CONCURRENCY ?? 32)
const CHAT_PEOPLE = Number(process.env.BENCH_BOT_CHAT_PEOPLE ?? 8)
// The bot allows 30 commands a minute per person: stay under it so every sample is a real reply, not a refusal.
const CHAT_COMMANDS_EACH = Math.min(28, Number(process.env.BENCH_BOT_CHAT_COMMANDS ?? 25))

const agentName = (p: number) => `Bench${p}`
/**
 * The mix, per person p: cheap parse-only replies, owner-scoped SQL reads and writes, refusals, garbage — each with
 * what its reply must contain, so the rate counts right answers only.
 */
const mix = (p: number, i: number): { readonly text: string; readonly expect: string } => {
  const name = agentName(p)
  const choices = [
    { text: "/help", expect: "/new" },
    { text: "help", expect: "/agents" },
    { text: "/agents", expect: name },
    { text: "my agents", expect: name },
    { text: "/templates", expect: "/new <template>" },
    { text: `/invite ${name}`, expect: "https://" },
    { text: `/name ${name} ${name}`, expect: `now called ${name}` },
    {
      text: `/instruct ${name} Keep answers short. /release everything (data, not a command)`,
      expect: "new instructions",
    },
    { text: "/replenish 5", expect: "ops command" },
    { text: "/frobnicate now", expect: "I don't know /frobnicate" },
    { text: `\u0000\u202e${"🙂".repeat(i % 50)}\u0007`, expect: "didn't understand" },
    { text: "/name", expect: "Usage: /name" },
  ]
  return choices[i % choices.length]!
}

const routerBench = Effect.gen(function* () {
  const pool = yield* Pool
  const router = yield* makeBotPipeline({
    inviteUrlFor: () => "https://dev.convos.org/v2?i=bench",
    commandsPerMinute: Number.MAX_SAFE_INTEGER,
  }).pipe(Effect.provide(Dialogs.layer))
  yield* pool.replenish(PEOPLE)
  yield* pool.tick
  const incoming = (p: number, i: number, text: string): Incoming => ({
    conversationId: `chat-${p}`,
    sender: `person-${p}`,
    messageId: `m-${p}-${i}`,
    text,
    inOpsChat: false,
    isAdmin: false,
  })
  // Every person gets an agent through the dialog first (/new → name → /skip instructions → claim).
  const claimStart = performance.now()
  const claimed = yield* Effect.forEach(
    Array.from({ length: PEOPLE }, (_, p) => p),
    (p) =>
      Effect.gen(function* () {
        yield* repliesTo(router, incoming(p, -3, "/new"))
        yield* repliesTo(router, incoming(p, -2, agentName(p)))
        const replies = yield* repliesTo(router, incoming(p, -1, "/skip"))
        return replies.some((r) => r.includes("is ready"))
      }),
    { concurrency: CONCURRENCY },
  )
  const dialogSeconds = (performance.now() - claimStart) / 1000
  const claimedCount = claimed.filter(Boolean).length

  /** Sends `count` commands (person i % PEOPLE, command pick(p, round)) with CONCURRENCY in flight; checks every reply. */
  const run = (count: number, pick: (p: number, round: number) => { readonly text: string; readonly expect: string }) =>
    Effect.gen(function* () {
      const latencies: number[] = []
      const wrong: string[] = []
      let next = 0
      let empty = 0
      let failed = 0
      const started = performance.now()
      const worker = Effect.gen(function* () {
        while (next < count) {
          const i = next++
          const p = i % PEOPLE
          const command = pick(p, Math.floor(i / PEOPLE))
          const t0 = performance.now()
          const replies = yield* repliesTo(router, incoming(p, i, command.text))
          latencies.push(performance.now() - t0)
          if (replies.length === 0 || replies.some((r) => r.length === 0)) empty++
          else if (replies.some((r) => r.startsWith("Something went wrong"))) failed++
          else if (!replies.join("\n").includes(command.expect))
            wrong.push(
              `${JSON.stringify(command.text.slice(0, 30))} → ${JSON.stringify(replies.join(" | ").slice(0, 120))}`,
            )
        }
      })
      yield* Effect.all(
        Array.from({ length: CONCURRENCY }, () => worker),
        { concurrency: "unbounded", discard: true },
      )
      const seconds = (performance.now() - started) / 1000
      return { rate: count / seconds, latencies, bad: empty + failed + wrong.length, wrong }
    })

  // What was measured: the router and the real pool on Postgres; agents come from the in-memory compute and runtime.
  const where = "Postgres, in-memory compute + runtime"
  const mixedRun = yield* run(COMMANDS, mix)
  const mixed = {
    ...mixedRun,
    latency: percentileMeasures(mixedRun.latencies, "ms", [
      { p: 50, measure: "router latency p50 (mixed)" },
      { p: 99, measure: "router latency p99 (mixed)" },
    ]),
  }
  // Only the commands that read or write the database (owner-scoped Pool ops): the slow half of the mix.
  const dbBacked = (p: number, round: number) => mix(p, [2, 3, 5, 6, 7][round % 5]!)
  const dbRun = yield* run(Math.max(1, Math.floor(COMMANDS / 4)), dbBacked)
  const db = {
    ...dbRun,
    latency: percentileMeasures(dbRun.latencies, "ms", [
      { p: 99, measure: "router latency p99 (database-backed only)" },
    ]),
  }
  const bad = mixed.bad + db.bad
  return {
    measures: [
      {
        measure: `router commands per second (${CONCURRENCY} in flight, mixed; ${where})`,
        value: mixed.rate,
        unit: "commands/s",
        target: "≥ 1000",
        pass: mixed.rate >= 1000,
      },
      ...mixed.latency.measures,
      {
        measure: `router commands per second (database-backed only; ${where})`,
        value: db.rate,
        unit: "commands/s",
        target: "≥ 1000",
        pass: db.rate >= 1000,
      },
      ...db.latency.measures,
      {
        measure: "router replies missing, failed or not what the command should say",
        value: bad,
        unit: "",
        target: "0",
        pass: bad === 0,
      },
      {
        measure: "/new dialogs that ended with a claim",
        value: claimedCount,
        unit: "",
        target: `${PEOPLE}`,
        pass: claimedCount === PEOPLE,
      },
      {
        measure: `/new dialogs completed with a claim per second (${where})`,
        value: claimedCount / dialogSeconds,
        unit: "dialogs/s",
      },
    ] satisfies Measure[],
    notes: [
      ...mixed.latency.notes,
      ...db.latency.notes,
      ...[...mixed.wrong, ...db.wrong].slice(0, 5).map((w) => `unexpected reply: ${w}`),
      `router: ${COMMANDS} mixed commands (12 kinds: help, aliases, /agents, /templates, /invite, /name, /instruct, refused ops, unknown, garbage, usage errors) ` +
        `then ${Math.floor(COMMANDS / 4)} database-backed ones (/agents, my agents, /invite, /name, /instruct) from ${PEOPLE} people ` +
        `(${claimedCount}/${PEOPLE} own an agent from the /new dialog); per-person rate limit lifted; real Postgres (${process.env.TEST_DATABASE_URL?.replace(/\/\/[^@]*@/, "//")})`,
    ],
  }
})

const REPLY_WAIT_MS = 20_000
const letters = (n: number): string =>
  (n >= 26 ? letters(Math.floor(n / 26) - 1) : "") + String.fromCharCode(97 + (n % 26))
/** What person p sends i-th in the devnet phase, with text only the reply to it contains (neighbours differ). */
const chatCommand = (p: number, i: number): { readonly text: string; readonly expect: string } => {
  const unknown = `/bench_${letters(p)}_${letters(i)}`
  const kinds = [
    { text: "/templates", expect: "Agent templates (say /new <template>)" },
    { text: "/agents", expect: "You have no agents yet" },
    { text: unknown, expect: `I don't know ${unknown}.` },
    { text: "my agents", expect: "You have no agents yet" },
    { text: unknown, expect: `I don't know ${unknown}.` },
  ]
  return kinds[i % kinds.length]!
}

/** One scripted person: opens the manager chat from the bot's invite, then sends commands one at a time. */
const person = (index: number) =>
  Effect.gen(function* () {
    const messaging = yield* Messaging
    const bot = yield* ManagerBot
    const identity = generateIdentity()
    const client = yield* messaging.connect(identity, { label: `bench-person-${index}` })
    const joined = yield* joinByInvite(client, identity, bot.inviteUrl(), {
      profile: { name: `P${index}`, kind: "human" },
      timeoutMs: 20_000,
      pollMs: 50,
    })
    if (joined._tag !== "Joined")
      return yield* Effect.fail(new Error(`person ${index} could not open the manager chat: ${joined._tag}`))
    const chatId = joined.conversationId
    // Wait for the welcome so it is not mistaken for the first reply.
    for (let tries = 0; ; tries++) {
      const ms = yield* client.messages(chatId, { limit: 50 })
      if (ms.some((m) => m.senderInboxId === bot.inboxId && m.text !== null)) break
      if (tries > 400) return yield* Effect.fail(new Error(`person ${index}: no welcome from the bot`))
      yield* Effect.sleep("25 millis")
    }
    const arrivals = yield* Queue.unbounded<{ readonly at: number; readonly text: string }>()
    yield* client.stream({ afterMs: Date.now() }).pipe(
      Stream.runForEach((m) =>
        m.conversationId === chatId && m.senderInboxId === bot.inboxId && m.text !== null
          ? Queue.offer(arrivals, { at: performance.now(), text: m.text })
          : Effect.void,
      ),
      Effect.forkScoped,
    )
    const latencies: number[] = []
    let missed = 0
    let unmatched = 0
    for (let i = 0; i < CHAT_COMMANDS_EACH; i++) {
      const command = chatCommand(index, i)
      const t0 = performance.now()
      yield* client.sendText(chatId, command.text)
      // The latency is to the reply to THIS command (its text says so), not to whatever bot message comes next; a
      // reply that does not come within REPLY_WAIT_MS is a miss, counted, and the person goes on.
      let matched = false
      while (!matched) {
        const left = REPLY_WAIT_MS - (performance.now() - t0)
        const next =
          left > 0 ? yield* Queue.take(arrivals).pipe(Effect.timeoutOption(Duration.millis(left))) : Option.none()
        if (Option.isNone(next)) break
        if (next.value.text.includes(command.expect)) {
          latencies.push(next.value.at - t0)
          matched = true
        } else unmatched++
      }
      if (!matched) missed++
    }
    return { latencies, missed, unmatched }
  })

const devnetBench = Effect.gen(function* () {
  const started = performance.now()
  const perPerson = yield* Effect.forEach(
    Array.from({ length: CHAT_PEOPLE }, (_, i) => i),
    person,
    { concurrency: "unbounded" },
  )
  const seconds = (performance.now() - started) / 1000
  const all = perPerson.flatMap((p) => p.latencies)
  const missed = perPerson.reduce((n, p) => n + p.missed, 0)
  const unmatched = perPerson.reduce((n, p) => n + p.unmatched, 0)
  const sent = CHAT_PEOPLE * CHAT_COMMANDS_EACH
  const latency = percentileMeasures(all, "ms", [
    { p: 50, measure: "devnet reply latency p50 (send → that command's reply received)" },
    { p: 99, measure: "devnet reply latency p99" },
  ])
  return {
    measures: [
      ...latency.measures,
      {
        measure: `devnet replies received (a reply missing after ${REPLY_WAIT_MS / 1000} s is a miss)`,
        value: all.length,
        unit: "",
        target: `${sent}`,
        pass: all.length === sent,
      },
      { measure: "devnet replies missed", value: missed, unit: "", target: "0", pass: missed === 0 },
    ] satisfies Measure[],
    notes: [
      `devnet: ${CHAT_PEOPLE} people at once, each joins via the lobby invite then sends ${CHAT_COMMANDS_EACH} commands one at a time (a reply = two devnet hops + the bot's redelivery check, owner lookup and command); each reply matched to its command by its text; ${unmatched} bot messages matched no waiting command; ${Math.round(seconds)} s incl. joins`,
      ...latency.notes,
    ],
  }
}).pipe(Effect.scoped)

const devnetLayer = (dataDir: string) =>
  ManagerBotLive.pipe(
    Layer.provideMerge(PoolTest({ settings: { dataDir }, database: TestDatabase.pipe(Layer.provide(BotMigrations)) })),
    Layer.provideMerge(DevnetTest),
    Layer.provide(
      ConfigProvider.layer(
        ConfigProvider.fromEnv({ env: { DATA_DIR: dataDir, ADMIN_INBOX_IDS: "", ALERT_INTERVAL_MS: "600000" } }),
      ),
    ),
  )

const main = Effect.gen(function* () {
  console.log(`bench:bot: router phase (${COMMANDS} commands, ${PEOPLE} people)…`)
  const router = yield* routerBench.pipe(
    Effect.provide(
      PoolTest({ settings: { maxTotal: 1_000_000 }, database: TestDatabase.pipe(Layer.provide(BotMigrations)) }),
    ),
    Effect.scoped,
  )
  console.log(`bench:bot: devnet phase (${CHAT_PEOPLE} people × ${CHAT_COMMANDS_EACH} commands)…`)
  const dataDir = mkdtempSync(join(tmpdir(), "convos-bench-bot-"))
  const chat = yield* devnetBench.pipe(
    Effect.provide(devnetLayer(dataDir)),
    Effect.scoped,
    Effect.ensuring(Effect.sync(() => rmSync(dataDir, { recursive: true, force: true }))),
  )
  reportBench(
    "bot",
    [...router.measures, ...chat.measures],
    [...router.notes, ...chat.notes, "machine: 2 shared cores"],
  )
})

Effect.runPromise(main).then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  },
)
