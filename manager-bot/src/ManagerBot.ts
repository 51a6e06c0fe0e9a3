import { join } from "node:path"
import { Clock, Config, Context, Duration, Effect, Exit, Layer, Option, Schedule, Stream } from "effect"
import { DataDir } from "@convos-agents/contract"
import { fromConfigError, InvalidConfig, Pool } from "@convos-agents/pool-core"
import { type ChatMessage, Messaging, type MessagingClient, type MessagingIdentity } from "@convos-agents/messaging"
import {
  createInviteSlug,
  encodeMetadata,
  handleJoinRequest,
  inviteUrlBase,
  JoinRefused,
  profileUpdateContent,
  randomTag,
} from "@convos-agents/messaging/convos"
import { restartSchedule, supervise } from "@convos-agents/pool-core/supervision"
import { makeSpendOf } from "@convos-agents/pool-core/providers/resources"
import { CheckFailed, registerCheck } from "@convos-agents/pool-core/observability"
import { alertText, makeAlertLimiter, restartAlert } from "./alerts.ts"
import { loadOrCreateIdentity } from "./identity.ts"
import { localOperator } from "./localOperator.ts"
import { notifyOwner } from "./ownerNotices.ts"
import { checkSpendCaps } from "./spendCaps.ts"
import { makeLanes } from "./lanes.ts"
import { makeBotPipeline } from "./bot/pipeline.ts"
import { COMMANDS_PER_MINUTE } from "./bot/rateLimit.ts"
import { Dialogs } from "./dialogs/Dialogs.ts"
import { BotStore } from "./store.ts"
import { ledgerJournal, recordedReply } from "./journal.ts"
import { PendingClaims } from "./pending/PendingClaims.ts"
import { resumePending } from "./pending/resume.ts"

// The manager bot on the Messaging port. People open its public (lobby) invite; each gets a private group with the bot
// (the manager chat — Convos shows no DMs). Admins open the ops invite. A template invite (web catalog) is the lobby
// invite with the template in its encrypted conversation token ("lobby:<slug>"), so the bot starts /new with it.

const LOBBY = "lobby"
const OPS = "ops"

export interface ManagerBotInfo {
  readonly inboxId: string
  readonly inviteUrl: (templateSlug?: string) => string
  readonly opsInviteUrl: string
  readonly opsConversationId: string
  /** Devnet only: the local operator's inbox, admitted to the ops chat (`npm run chat -- --ops`); null on XMTP. */
  readonly localOperatorInboxId: string | null
}

export class ManagerBot extends Context.Service<ManagerBot, ManagerBotInfo>()("manager-bot/ManagerBot") {}

const settings = Config.all({
  dataDir: DataDir,
  privateKey: Config.option(Config.String("MANAGER_PRIVATE_KEY")),
  admins: Config.String("ADMIN_INBOX_IDS").pipe(Config.withDefault("")),
  inviteBase: Config.option(Config.String("CONVOS_INVITE_BASE_URL")),
  alertIntervalMs: Config.Int("ALERT_INTERVAL_MS").pipe(Config.withDefault(10 * 60_000)),
  commandsPerMinute: Config.Int("COMMANDS_PER_MINUTE").pipe(Config.withDefault(COMMANDS_PER_MINUTE)),
  /** Conversations answered at once; messages of one conversation are always answered in order. */
  concurrency: Config.Int("BOT_CONCURRENCY").pipe(Config.withDefault(16)),
  /** How often running agents' OpenRouter spend is checked for the spend-cap notice (spendCaps.ts). */
  spendCheckInterval: Config.Duration("SPEND_CHECK_INTERVAL").pipe(Config.withDefault(Duration.minutes(5))),
})

const WELCOME =
  "Hi! I'm the agent manager. I give you AI agents that live in Convos conversations.\n" +
  "Say /new to get one, /templates to see the kinds, /help for everything."

/** The bot's settings from the environment, checked: a bad value fails naming its variable. */
export const botSettings = Effect.gen(function* () {
  const s = yield* settings.pipe(Effect.mapError(fromConfigError))
  const ranges = [
    ["ALERT_INTERVAL_MS", s.alertIntervalMs, 0],
    ["COMMANDS_PER_MINUTE", s.commandsPerMinute, 1],
    ["BOT_CONCURRENCY", s.concurrency, 1],
  ] as const
  for (const [variable, value, min] of ranges) {
    if (value < min)
      return yield* new InvalidConfig({
        variable,
        message: `${variable} is ${value}; it must be at least ${min}. Unset it to use the default.`,
      })
  }
  const admins = new Set(
    s.admins
      .split(",")
      .map((x) => x.trim().toLowerCase())
      .filter(Boolean),
  )
  for (const a of admins) {
    if (!/^[0-9a-f]{64}$/.test(a))
      return yield* new InvalidConfig({
        variable: "ADMIN_INBOX_IDS",
        message: `ADMIN_INBOX_IDS has "${a}", which is not an inbox id (64 hex characters). Separate several with commas.`,
      })
  }
  return { ...s, admins }
})

const makeBot = Effect.gen(function* () {
  const s = yield* botSettings
  const admins = new Set(s.admins)
  const me: MessagingIdentity = yield* loadOrCreateIdentity(
    join(s.dataDir, "manager-identity.json"),
    Option.getOrUndefined(s.privateKey),
  )
  const messaging = yield* Messaging
  const store = yield* BotStore
  const pool = yield* Pool
  const client = yield* messaging.connect(me, { label: "manager-bot", dbPath: join(s.dataDir, "manager-xmtp.db3") })

  const base = Option.getOrElse(s.inviteBase, () => inviteUrlBase(messaging.network))
  const stateOr = (key: string, make: Effect.Effect<string, unknown>) =>
    store
      .getState(key)
      .pipe(
        Effect.flatMap(
          Option.match({ onSome: Effect.succeed, onNone: () => make.pipe(Effect.tap((v) => store.setState(key, v))) }),
        ),
      )

  const lobbyTag = yield* stateOr("lobby_tag", Effect.sync(randomTag))
  const opsTag = yield* stateOr("ops_tag", Effect.sync(randomTag))
  const opsId = yield* stateOr(
    "ops_conversation_id",
    client
      .createGroup([], {
        name: "Agent pool ops",
        description: "Pool alerts and admin commands",
        appData: encodeMetadata({ tag: opsTag }),
      })
      .pipe(Effect.map((g) => g.id)),
  )
  // /readyz: the bot's messaging client answers a lookup of its own ops chat (devnet: the server; XMTP: the client).
  yield* registerCheck(
    "messaging",
    client.conversation(opsId).pipe(
      Effect.flatMap(
        Option.match({
          onNone: () =>
            Effect.fail(
              new CheckFailed({
                message: "the bot's client does not find its ops chat (restart the manager; it creates the chat again)",
              }),
            ),
          onSome: () => Effect.succeed(`${messaging.network}: the bot's client answers`),
        }),
      ),
      Effect.mapError((e) =>
        e._tag === "CheckFailed" ? e : new CheckFailed({ message: `not answering: ${e.message}` }),
      ),
    ),
  )
  // On the devnet the local operator is an admin too (never on XMTP).
  const operator = yield* localOperator(s.dataDir, opsId)
  if (Option.isSome(operator)) {
    const op = operator.value.inboxId
    admins.add(op)
    // Added once; it sees only what is sent after, so the bot's name and a welcome follow.
    if (!(yield* client.members(opsId)).some((m) => m.inboxId === op)) {
      yield* client.addMembers(opsId, [op])
      yield* client.send(opsId, profileUpdateContent("Agent manager", "agent"))
      yield* client.sendText(opsId, "Welcome, local operator: this is the ops chat. /help lists the ops commands.")
    }
  }
  // Admins that already exist on the network are added straight away; the others use the ops invite.
  for (const admin of admins) yield* client.addMembers(opsId, [admin]).pipe(Effect.ignore)

  const inviteUrl = (templateSlug?: string) =>
    base +
    createInviteSlug(me, {
      conversationId: templateSlug ? `${LOBBY}:${templateSlug}` : LOBBY,
      tag: lobbyTag,
      name: "Agent manager",
      emoji: "🤖",
    })
  const opsInviteUrl = base + createInviteSlug(me, { conversationId: OPS, tag: opsTag, name: "Agent pool ops" })

  /** A message in a person's manager chat (a /transfer accepted or declined is told to the giver). */
  const tell = (inboxId: string, text: string) =>
    store.chatOf(inboxId).pipe(
      Effect.flatMap(Option.match({ onNone: () => Effect.void, onSome: (chat) => client.sendText(chat, text) })),
      Effect.asVoid,
      Effect.catchCause((cause) => Effect.logWarning("manager bot: message to an owner not sent", cause)),
    )

  const bot = yield* makeBotPipeline({
    inviteUrlFor: inviteUrl,
    commandsPerMinute: s.commandsPerMinute,
    tell,
    network: messaging.network,
    say: (conversationId, text) => client.sendText(conversationId, text).pipe(Effect.asVoid),
  })

  /**
   * Where a join request goes: lobby → the person's manager chat (created on first join), ops → admins only. An invite
   * the bot signed for any other conversation admits only that manager chat's own owner: nobody enters someone else's
   * manager chat (or the ops chat) by holding a link to it.
   */
  const route = (ctx: { conversationId: string; requesterInboxId: string }) =>
    Effect.gen(function* () {
      if (ctx.conversationId === OPS || ctx.conversationId === opsId) {
        if (!admins.has(ctx.requesterInboxId))
          return yield* Effect.fail(
            new JoinRefused("consent_not_allowed", "Only admins (ADMIN_INBOX_IDS) can join the ops chat."),
          )
        return opsId
      }
      if (ctx.conversationId !== LOBBY && !ctx.conversationId.startsWith(`${LOBBY}:`)) {
        const owner = yield* store.ownerOfChat(ctx.conversationId).pipe(Effect.orDie)
        if (Option.isSome(owner) && owner.value === ctx.requesterInboxId) return ctx.conversationId
        return yield* Effect.fail(
          new JoinRefused(
            "consent_not_allowed",
            "That link is to someone else's private chat with the agent manager. Open the agent manager's own invite to get yours.",
          ),
        )
      }
      const existing = yield* store.chatOf(ctx.requesterInboxId).pipe(Effect.orDie)
      if (Option.isSome(existing)) return existing.value
      const chat = yield* client.createGroup([], {
        name: "Agent manager",
        description: "Your private chat with the agent manager",
        appData: encodeMetadata({ tag: lobbyTag, emoji: "🤖" }),
      })
      yield* store.recordChat(chat.id, ctx.requesterInboxId).pipe(Effect.orDie)
      return chat.id
    })

  const onJoined = (ctx: { conversationId: string; groupId: string; requesterInboxId: string }) =>
    Effect.gen(function* () {
      if (ctx.groupId === opsId) {
        yield* client.send(opsId, profileUpdateContent("Agent manager", "agent"))
        yield* client.sendText(opsId, "Welcome to the ops chat. /help lists the ops commands.")
        return
      }
      // Convos shows names from profile updates; new members only see messages sent after they joined.
      yield* client.send(ctx.groupId, profileUpdateContent("Agent manager", "agent"))
      const template = ctx.conversationId.startsWith(`${LOBBY}:`) ? ctx.conversationId.slice(LOBBY.length + 1) : null
      yield* client.sendText(ctx.groupId, WELCOME)
      if (template)
        yield* bot.startDialog(ctx.groupId, ctx.requesterInboxId, template, (text) =>
          client.sendText(ctx.groupId, text).pipe(Effect.asVoid, Effect.orDie),
        )
    }).pipe(Effect.catchCause((cause) => Effect.logWarning("manager bot: welcome not sent", cause)))

  /**
   * Answers one message (in its conversation's lane: after that conversation's earlier messages). The answer is
   * claimed in the ledger before its first reply is sent (guarded on this process still holding the message), so of
   * two processes that both think they hold it — a takeover after a connection blip — only one ever sends.
   */
  const answer = (m: ChatMessage, claimed: { value: boolean }) =>
    Effect.gen(function* () {
      const conv = yield* client.conversation(m.conversationId)
      if (Option.isNone(conv)) return
      if (conv.value.kind === "dm") {
        yield* handleJoinRequest(client, me, m, { route, onJoined })
        return
      }
      if (m.text === null) return // profile updates, reactions, read receipts: not input
      const inOps = m.conversationId === opsId
      const owner = inOps
        ? Option.none()
        : yield* untilDatabaseAnswers("finding the chat's owner", store.ownerOfChat(m.conversationId))
      if (!inOps && Option.isNone(owner)) return // an agent's conversation or someone else's group: not ours to answer
      let refused = false
      const mayReply = Effect.suspend(() => {
        if (claimed.value || refused) return Effect.succeed(claimed.value)
        return untilDatabaseAnswers("claiming an answer", store.claimAnswer(m.id, handler)).pipe(
          Effect.tap((mine) =>
            Effect.sync(() => {
              claimed.value = mine
              refused = !mine
            }),
          ),
          Effect.tap((mine) =>
            mine
              ? Effect.void
              : Effect.logWarning(
                  `manager bot: message ${m.id} was taken over by another process; it answers it, not this one`,
                ),
          ),
        )
      })
      const reply = (text: string) =>
        mayReply.pipe(
          Effect.flatMap((mine) => (mine ? client.sendText(m.conversationId, text).pipe(Effect.asVoid) : Effect.void)),
          Effect.catchCause((cause) => Effect.logWarning(`manager bot: reply to ${m.id} not sent`, cause)),
        )
      if (!inOps) {
        // An earlier run of this message (a process that died, taken over now) may have done its part already.
        const earlier = yield* untilDatabaseAnswers("reading the message's journal", store.journalOf(m.id))
        if (earlier.pending) return // it accepted a /new: the resumer (pending/resume.ts) sends its invite
        const recorded = yield* recordedReply(pool, m.senderInboxId, earlier)
        if (Option.isSome(recorded)) {
          yield* reply(recorded.value.reply)
          // The cut run's message to someone else (an accepted transfer's giver), sent only by the answer's claimant.
          const notice = recorded.value.tell
          if (notice && claimed.value) yield* tell(notice.inboxId, notice.text)
          return
        }
      }
      yield* bot.handle(
        {
          conversationId: m.conversationId,
          sender: m.senderInboxId,
          messageId: m.id,
          text: m.text,
          inOpsChat: inOps,
          isAdmin: admins.has(m.senderInboxId),
          journal: ledgerJournal(
            (entry) => store.journal(m.id, handler, entry),
            (outcome, effect) => store.withOutcome(m.id, handler, outcome, effect),
          ),
        },
        reply,
      )
    }).pipe(Effect.catchCause((cause) => Effect.logWarning(`manager bot: message ${m.id} not handled`, cause)))

  // Alerts: at most one post per kind per interval; what was held back follows as one summary when it ends.
  const limiter = makeAlertLimiter(s.alertIntervalMs)
  const postAlerts = (texts: ReadonlyArray<string>) =>
    Effect.forEach(texts, (t) => client.sendText(opsId, t).pipe(Effect.ignore), { discard: true })
  /** Supervised loops tell the ops chat when they restart (rate-limited like every alert). */
  const opsWarning = (loop: string) => (message: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => postAlerts(limiter.offer(restartAlert(loop, message), now)))
  /** A long-running loop of the bot: restarted with backoff when it stops, with a warning in the log and the ops chat. */
  const supervised = <A, E>(loop: string, effect: Effect.Effect<A, E>) =>
    supervise(`manager bot: ${loop}`, effect, { warn: opsWarning(loop) }).pipe(Effect.forkScoped)
  /**
   * Database work a message cannot go without (taking it in the ledger, finding its chat's owner): while the database
   * is down it is retried with backoff, holding the stream (later messages wait in order), so a message that arrives
   * during an outage is answered once the database is back instead of dropped.
   */
  let databaseDownSince: number | null = null
  const untilDatabaseAnswers = <A, E extends { readonly message: string }>(what: string, effect: Effect.Effect<A, E>) =>
    effect.pipe(
      Effect.tapError((e) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          if (databaseDownSince !== null) return Effect.void
          databaseDownSince = now
          const message = `manager bot: the database is not answering (${what}: ${e.message}); messages wait and are answered once it is back`
          return Effect.logWarning(message).pipe(Effect.andThen(opsWarning("database")(message)))
        }),
      ),
      Effect.retry(restartSchedule({ maxDelay: Duration.seconds(2) })),
      Effect.tap(() =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          if (databaseDownSince === null) return Effect.void
          const downFor = now - databaseDownSince
          databaseDownSince = null
          return Effect.logInfo(
            `manager bot: the database answers again after ${Math.round(downFor / 1000)} s; answering the messages that waited`,
          )
        }),
      ),
    )

  // One stream for every chat: the redelivery check and the cursor run in stream order, then each message goes to its
  // conversation's lane, so a slow /new in one chat never holds up another chat or the ops chat. One conversation
  // may have at most 100 messages waiting (well above the per-person rate limit): a flood from one person never takes
  // the whole shared budget.
  const lanes = yield* makeLanes({ concurrency: Math.max(1, s.concurrency), maxQueued: 1_000, maxPerKey: 100 })
  // The ledger's handler is this process's pool replica id: a message taken by a process that is gone (its session
  // lock is free) and never answered is taken again; one a live process is answering is left to it.
  const handler = pool.replica.id
  // Gone = its lock stayed free for POOL_REPLICA_GONE_AFTER (Pool.replica): a blip never makes two processes answer.
  const gone = (other: string) => pool.replica.gone([other]).pipe(Effect.map((set) => set.has(other)))
  // Where a restart resumes (a minute before the cursor; the ledger drops repeats): the oldest message still being
  // answered, else the newest taken. Saved at most once a second.
  const inFlight = new Map<string, number>()
  let newestTaken = 0
  let cursorSavedAt = 0
  const saveCursor = Effect.flatMap(Clock.currentTimeMillis, (now) => {
    if (now - cursorSavedAt < 1_000) return Effect.void
    cursorSavedAt = now
    const cursor = inFlight.size > 0 ? Math.min(...inFlight.values()) : newestTaken
    return store
      .setState("stream_cursor", String(cursor))
      .pipe(
        Effect.catchCause((cause) =>
          Effect.logWarning("manager bot: stream cursor not saved (a restart replays a little more)", cause),
        ),
      )
  })
  // A message another process holds is watched until it is answered there, or that process is gone for
  // POOL_REPLICA_GONE_AFTER and this one takes it over (every process streams every message). Bounded: a process
  // alive that long without answering has its own restart path (its cursor replays it).
  const WATCH = Schedule.spaced(Duration.seconds(1)).pipe(Schedule.upTo({ duration: Duration.minutes(10) }))
  const watch = (m: ChatMessage) =>
    untilDatabaseAnswers("watching a message", store.takeMessage(m.id, handler, gone)).pipe(
      Effect.repeat({ schedule: WATCH, while: (r) => r === "held" }),
      Effect.flatMap((r) => (r === "taken" ? proceed(m) : Effect.void)),
      Effect.catchCause((cause) => Effect.logWarning(`manager bot: message ${m.id} not watched`, cause)),
      Effect.forkIn(watchers),
    )
  const watchers = yield* Effect.scope
  const onMessage = (m: ChatMessage) =>
    Effect.gen(function* () {
      if (m.senderInboxId === me.inboxId) return
      const taken = yield* untilDatabaseAnswers("taking a message", store.takeMessage(m.id, handler, gone))
      if (taken === "held") return yield* watch(m).pipe(Effect.asVoid)
      if (taken === "done") return // answered, or this process has it
      yield* proceed(m)
    }).pipe(Effect.catchCause((cause) => Effect.logWarning(`manager bot: message ${m.id} not handled`, cause)))
  /** A message this process took: answered in its conversation's lane. */
  const proceed = (m: ChatMessage) =>
    Effect.gen(function* () {
      const sentAt = m.sentAt.getTime()
      newestTaken = Math.max(newestTaken, sentAt)
      // Ops commands change the pool (top-ups, replenish, drain): answered at most once, so a crash mid-command never
      // runs it again. Everything else is done only once answered, so an answer a crash cut off comes after the
      // restart (claims stay single: their key is the message id; renames and instructions repeat harmlessly).
      const atMostOnce = m.conversationId === opsId
      const claimed = { value: false }
      if (atMostOnce) {
        claimed.value = yield* store.claimAnswer(m.id, handler)
        if (!claimed.value) return // taken over meanwhile: the other process answers it
      } else inFlight.set(m.id, sentAt)
      yield* saveCursor
      const done = (exit: Exit.Exit<void>) =>
        Effect.suspend(() => {
          inFlight.delete(m.id)
          // Guarded like every answer: a message another process took over meanwhile stays its to answer.
          return atMostOnce || Exit.hasInterrupts(exit)
            ? Effect.void
            : store.claimAnswer(m.id, handler).pipe(Effect.ignore)
        })
      const queued = yield* lanes.run(m.conversationId, answer(m, claimed).pipe(Effect.onExit(done)))
      if (!queued) {
        inFlight.delete(m.id)
        if (claimed.value || (yield* store.claimAnswer(m.id, handler))) {
          yield* client
            .sendText(
              m.conversationId,
              "That's a lot of messages at once: I'm still answering the earlier ones. Send this one again in a moment.",
            )
            .pipe(Effect.ignore)
        }
      }
    }).pipe(Effect.catchCause((cause) => Effect.logWarning(`manager bot: message ${m.id} not handled`, cause)))

  const cursor = yield* store.getState("stream_cursor")
  const startedAt = yield* Clock.currentTimeMillis
  const startedFrom = Option.match(cursor, { onNone: () => startedAt - 60_000, onSome: (c) => Number(c) - 60_000 })
  // A restarted stream resumes from the oldest message still being answered, else the newest taken (a minute before:
  // the ledger drops repeats), so nothing that arrived while it was down is missed.
  const resumeFrom = () => {
    const from = inFlight.size > 0 ? Math.min(...inFlight.values()) : newestTaken
    return from > 0 ? from - 60_000 : startedFrom
  }
  yield* supervised(
    "message stream",
    Effect.suspend(() => client.stream({ afterMs: resumeFrom() }).pipe(Stream.runForEach(onMessage))),
  )

  // The ledger only needs what a restart can replay (from a minute before the cursor); an hour of margin covers clock
  // skew between the network's timestamps and the database's. Pruned hourly, so it does not grow forever.
  yield* Effect.gen(function* () {
    const saved = yield* store.getState("stream_cursor")
    if (Option.isNone(saved)) return
    const pruned = yield* store.pruneAnswered(new Date(Number(saved.value) - 60 * 60_000))
    if (pruned > 0)
      yield* Effect.logInfo(`manager bot: forgot ${pruned} answered message id(s) older than the replay window`)
  }).pipe(
    Effect.catchCause((cause) =>
      Effect.logWarning("manager bot: pruning the message ledger failed; it runs again in an hour", cause),
    ),
    Effect.repeat(Schedule.spaced("1 hour")),
    Effect.forkScoped,
  )

  // /new claims whose process died before the invite was sent: resumed here (pending/resume.ts).
  const pending = yield* PendingClaims
  yield* supervised("pending /new claims", resumePending({ pool, pending, client, handler, gone, scope: watchers }))

  yield* supervised(
    "alerts",
    pool.events.pipe(
      Stream.runForEach((e) => {
        const alert = alertText(e)
        return alert
          ? Effect.flatMap(Clock.currentTimeMillis, (now) => postAlerts(limiter.offer(alert, now)))
          : Effect.void
      }),
    ),
  )
  const toOwner = notifyOwner({ pool, store, send: client.sendText })
  yield* supervised("owner notices", pool.events.pipe(Stream.runForEach(toOwner)))
  const spendOf = yield* makeSpendOf
  yield* supervised(
    "spend-cap notices",
    checkSpendCaps({ pool, store, spendOf, send: client.sendText }).pipe(
      Effect.catchCause((cause) => Effect.logWarning("manager bot: spend caps not checked; next round soon", cause)),
      Effect.repeat(Schedule.spaced(s.spendCheckInterval)),
    ),
  )
  yield* supervised(
    "alert summaries",
    Effect.flatMap(Clock.currentTimeMillis, (now) => postAlerts(limiter.flush(now))).pipe(
      Effect.repeat(Schedule.spaced(Duration.millis(Math.min(30_000, Math.max(50, s.alertIntervalMs / 4))))),
    ),
  )

  return ManagerBot.of({
    inboxId: me.inboxId,
    inviteUrl,
    opsInviteUrl,
    opsConversationId: opsId,
    localOperatorInboxId: Option.match(operator, { onNone: () => null, onSome: (o) => o.inboxId }),
  })
})

export const ManagerBotLive = Layer.effect(ManagerBot, makeBot).pipe(
  Layer.provide(Layer.mergeAll(BotStore.layer, Dialogs.layer, PendingClaims.layer)),
)

export type { MessagingClient }
