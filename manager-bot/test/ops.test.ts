import { assert, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { SqlClient } from "effect/sql"
import { Pool } from "@convos-agents/pool-core"
import { MemoryCloud } from "@convos-agents/pool-core/testing/pool"
import { ManagerBot } from "../src/ManagerBot.ts"
import { admin, AgentRuntime, botTestLayer, openManagerChat } from "./helpers.ts"

// The ops commands over devnet, from the admin's seat in the ops chat: each one's happy path and error path, checked
// against the pool's real state afterwards.

const short = (id: string) => id.slice(0, 8)

layer(botTestLayer(), { timeout: "120 seconds", excludeTestServices: true })("manager bot: ops commands", (it) => {
  it.effect("/pool, /drain, /reconcile, /kill, /dismiss: what they do and what they say when they cannot", () =>
    Effect.gen(function* () {
      const pool = yield* Pool
      const cloud = yield* MemoryCloud
      const runtime = yield* AgentRuntime
      const bot = yield* ManagerBot
      // A pool with one of each: idle, claimed, crashed (set up before the admin joins, so its alerts are not in view).
      yield* pool.replenish(3)
      yield* pool.tick
      const keeper = (yield* pool.claim({ key: "ops-1", claimedBy: "someone", agentName: "Keeper" })).instance
      cloud.failProvisions(1, "gateway exploded")
      yield* pool.claim({ key: "ops-2", claimedBy: "someone", agentName: "Broken" }).pipe(Effect.flip)
      const broken = (yield* pool.list({ status: ["crashed"] }))[0]!
      const [idle] = yield* pool.list({ status: ["idle"] })
      const ops = yield* openManagerChat("Admin", bot.opsInviteUrl, admin)

      const [listing] = yield* ops.say("/pool")
      for (const [i, status] of [
        [keeper, "claimed"],
        [broken, "crashed"],
        [idle!, "idle"],
      ] as const)
        assert.match(listing!, new RegExp(`${short(i.id)} ${status}`))
      assert.include(listing, "Keeper")
      assert.include(listing, "Broken — gateway exploded")

      assert.include((yield* ops.say("/drain 0"))[0], "Usage: /drain <N> with N from 1 to 20")
      assert.include((yield* ops.say("/drain 1"))[0], `Drained 1: ${short(idle!.id)}`)
      assert.strictEqual((yield* pool.counts).idle, 0)
      assert.include((yield* ops.say("/drain 1"))[0], "No idle instance to drain")
      assert.include((yield* ops.say("/drain"))[0], "Usage: /drain <N>")

      assert.include((yield* ops.say("/replenish 1"))[0], "Starting 1 instance")
      assert.match((yield* ops.say("/reconcile"))[0]!, /Tick done in \d+ ms: 1 ready, 0 dead, 0 crashed, 0 started/)
      assert.strictEqual((yield* pool.counts).idle, 1)
      // While a tick is running (held at a health check of a starting instance), /reconcile says so instead of waiting.
      yield* pool.replenish(1)
      yield* runtime.hold("health")
      const running = yield* Effect.forkChild(pool.tick)
      for (let i = 0; i < 200 && runtime.waiting("health") === 0; i++) yield* Effect.sleep(10)
      assert.isAbove(runtime.waiting("health"), 0, "the tick is in progress")
      assert.include((yield* ops.say("/reconcile"))[0], "A tick is already running")
      yield* runtime.release("health")
      assert.isTrue((yield* Fiber.join(running)).ran)

      assert.include((yield* ops.say("/kill zzzz"))[0], "No instance zzzz. Say /pool to list them.")
      assert.include((yield* ops.say("/kill ab"))[0], "No instance ab")
      assert.include((yield* ops.say(`/kill ${short(keeper.id)}`))[0], `Killed ${short(keeper.id)} (was claimed).`)
      assert.strictEqual((yield* pool.get(keeper.id).pipe(Effect.flip))._tag, "InstanceNotFound")

      const [live] = yield* pool.list({ status: ["idle"] })
      assert.include(
        (yield* ops.say(`/dismiss ${short(live!.id)}`))[0],
        "only crashed or dead instances can be dismissed (use kill for others)",
      )
      assert.strictEqual((yield* pool.get(live!.id)).status, "idle", "a refused dismiss changes nothing")
      assert.include((yield* ops.say(`/dismiss ${short(broken.id)}`))[0], `Dismissed ${short(broken.id)}.`)
      assert.strictEqual((yield* pool.get(broken.id).pipe(Effect.flip))._tag, "InstanceNotFound")
      assert.include((yield* ops.say(`/dismiss ${short(broken.id)}`))[0], `No instance ${short(broken.id)}`)

      for (const i of yield* pool.list({})) yield* ops.say(`/kill ${i.id}`)
      assert.include((yield* ops.say("/pool"))[0], "The pool is empty. /replenish N adds instances.")
      assert.strictEqual((yield* pool.counts).total - (yield* pool.counts).dead, 0)
    }),
  )

  it.effect("/help in the ops chat lists the ops commands (and /help), not the manager-chat ones", () =>
    Effect.gen(function* () {
      const bot = yield* ManagerBot
      const ops = yield* openManagerChat("Admin", bot.opsInviteUrl, admin)
      const [help] = yield* ops.say("/help")
      assert.include(help, "Ops commands (this chat only)")
      for (const c of [
        "/counts",
        "/pool",
        "/replenish <N>",
        "/drain <N>",
        "/reconcile",
        "/kill <id>",
        "/dismiss <id>",
        "/help",
      ])
        assert.include(help, c)
      assert.notInclude(help, "/new")
    }),
  )

  it.effect(
    "ops commands are answered at most once (ledger done when taken); a person's message is claimed when its first reply goes out",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const runtime = yield* AgentRuntime
        const bot = yield* ManagerBot
        const sql = yield* SqlClient.SqlClient
        const answered = (id: string) =>
          sql<{
            answered: boolean
          }>`SELECT answered_at IS NOT NULL AS answered FROM processed_messages WHERE message_id = ${id}`.pipe(
            Effect.map((r) => r[0]?.answered),
          )
        const ops = yield* openManagerChat("Admin", bot.opsInviteUrl, admin)
        const ann = yield* openManagerChat("Ann")
        yield* pool.replenish(1)
        // Both held mid-command: the admin's /reconcile at a health check, Ann's claim at provisioning.
        yield* runtime.hold("health")
        yield* runtime.hold("provision")
        const reconcile = yield* ops.client.sendText(ops.chatId, "/reconcile")
        for (let i = 0; i < 300 && runtime.waiting("health") === 0; i++) yield* Effect.sleep(10)
        assert.isAbove(runtime.waiting("health"), 0, "the tick is held")
        assert.isTrue(
          yield* answered(reconcile),
          "an ops command is done in the ledger before it runs: a crash never runs it twice",
        )
        yield* runtime.release("health")
        for (let i = 0; i < 300 && (yield* pool.counts).idle === 0; i++) yield* Effect.sleep(10)
        assert.isAtLeast((yield* pool.counts).idle, 1, "the held tick finished")
        yield* ann.say("/new")
        yield* ann.say("/skip")
        const before = (yield* ann.botTexts()).length
        const instructions = yield* ann.client.sendText(ann.chatId, "/skip")
        for (let i = 0; i < 300 && runtime.waiting("provision") === 0; i++) yield* Effect.sleep(10)
        assert.isAbove(runtime.waiting("provision"), 0, "Ann's claim is held")
        // A person's message is claimed in the ledger when its first reply goes out ("Setting up …", before the
        // claim), never before: another process that takes it over then stays silent, so one message, one answer.
        const [settingUp] = (yield* ann.waitForBotTexts(before + 1)).slice(before)
        assert.include(settingUp, "Setting up")
        assert.isTrue(yield* answered(instructions), "the answer is claimed before its first reply is sent")
        yield* runtime.release("provision")
        for (let i = 0; i < 300 && !(yield* answered(instructions)); i++) yield* Effect.sleep(10)
        assert.isTrue(yield* answered(instructions))
      }),
  )
})
