import { randomUUID } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { Pool } from "@convos-agents/pool-core"
import { MemoryCloud, ProviderCircuitLive, startPool } from "@convos-agents/pool-core/testing/pool"
import { ManagerBot } from "../src/ManagerBot.ts"
import { AgentRuntime, botTestParts, openManagerChat, type Person } from "./helpers.ts"

// Issue 25 item 2, "one user message gets one answer, whatever the timing", when the bot's process dies midway. Each
// bot here runs on a pool of its own (its own replica id, as a process has): closing both is the process dying
// (its replica is then gone), and the next bot on the same database and devnet is another process, or the restart.
// The test's own pool (the layer's) stays up for replenish and the tick, like a third replica.

const { deps, bot } = botTestParts({ settings: { provisionTimeout: Duration.seconds(5) } })

/**
 * A bot "process": a bot over a pool of its own; `close` is its death (its replica's lock is free after it). With
 * `dieAfter`, that pool call does its work and then never returns (`effectDone` is then complete): the command is
 * stopped between its effect and its reply, where closing the process is a death after the effect.
 */
const startProcessDying = (dieAfter?: "transfer" | "rotateInvite") =>
  Effect.gen(function* () {
    const own = yield* startPool().pipe(Effect.provide(ProviderCircuitLive))
    const effectDone = yield* Deferred.make<void>()
    const stop = <A, E>(effect: Effect.Effect<A, E>) =>
      effect.pipe(Effect.tap(() => Deferred.succeed(effectDone, undefined).pipe(Effect.andThen(Effect.never))))
    const pool: Pool["Service"] =
      dieAfter === "transfer"
        ? { ...own.pool, transfer: (id, from, to) => stop(own.pool.transfer(id, from, to)) }
        : dieAfter === "rotateInvite"
          ? { ...own.pool, rotateInvite: (id, owner) => stop(own.pool.rotateInvite(id, owner)) }
          : own.pool
    return { ...(yield* processOver(own, pool)), effectDone: Deferred.await(effectDone) }
  })

const processOver = (own: { readonly close: Effect.Effect<void> }, pool: Pool["Service"]) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    // Closed by the test (the death), or at the test's end if it failed first: never left running into the next test.
    const close = yield* Effect.cached(Scope.close(scope, Exit.void).pipe(Effect.andThen(own.close)))
    yield* Effect.addFinalizer(() => close)
    const built = yield* Layer.build(bot.pipe(Layer.provide(Layer.succeed(Pool, pool)))).pipe(Scope.provide(scope))
    return {
      /** A person opens the manager chat through this process's bot (the same bot identity in every process). */
      open: (name: string, testScope: Scope.Scope) =>
        openManagerChat(name).pipe(
          Effect.provideService(ManagerBot, Context.get(built, ManagerBot)),
          Scope.provide(testScope),
        ),
      close,
    }
  })

const startProcess = startProcessDying()

const until = <E, R>(check: Effect.Effect<boolean, E, R>, what: string, ms = 30_000) =>
  Effect.gen(function* () {
    const deadline = Date.now() + ms
    while (Date.now() < deadline) {
      if (yield* check) return
      yield* Effect.sleep(50)
    }
    assert.fail(`timed out waiting for ${what}`)
  })

const textsMatching = (p: Person, pattern: RegExp) =>
  p.botTexts().pipe(Effect.map((ts) => ts.filter((t) => pattern.test(t))))

layer(deps, { timeout: "180 seconds", excludeTestServices: true })("manager bot: a process dies midway", (it) => {
  it.effect(
    "a /new whose agent is being set up when the bot's process dies: the next bot sends its invite once, nothing left pending",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const runtime = yield* AgentRuntime
        const sql = yield* SqlClient.SqlClient
        yield* pool.replenish(2)
        yield* pool.tick
        const testScope = yield* Effect.scope

        const first = yield* startProcess
        const ada = yield* first.open("Ada", testScope)
        yield* ada.say("/new")
        yield* ada.say("Trippy")
        yield* runtime.hold("provision")
        yield* ada.client.sendText(ada.chatId, "Plan our trip to Lisbon.")
        yield* until(
          textsMatching(ada, /^Setting up Trippy/).pipe(Effect.map((t) => t.length === 1)),
          "Setting up Trippy",
        )
        yield* until(
          Effect.sync(() => runtime.waiting("provision") === 1),
          "the agent's setup to be under way",
        )
        // The process dies while the agent is being set up (its claim is left `claiming`).
        yield* first.close
        yield* runtime.release("provision")
        assert.lengthOf(yield* textsMatching(ada, /is ready/), 0, "no invite yet")

        // The next process on the same database: the live replica's tick resolves the dead one's claim, and the bot
        // resumes the /new (same key, then a new one when the first claim was cut) and sends the invite.
        const second = yield* startProcess
        const ticks = yield* pool.tick.pipe(
          Effect.andThen(Effect.sleep(Duration.millis(500))),
          Effect.forever,
          Effect.forkChild,
        )
        yield* until(
          textsMatching(ada, /^Trippy is ready/).pipe(Effect.map((t) => t.length >= 1)),
          "Trippy's invite",
          60_000,
        )
        yield* Effect.sleep(Duration.seconds(3)) // a second invite would come by now
        yield* Fiber.interrupt(ticks)
        assert.lengthOf(yield* textsMatching(ada, /is ready/), 1, "one invite")
        const mine = yield* pool.list({ claimedBy: ada.id.inboxId, status: ["claimed"] })
        assert.lengthOf(mine, 1, "one claimed agent")
        assert.strictEqual(mine[0]!.agentName, "Trippy")
        assert.strictEqual(mine[0]!.instructions, "Plan our trip to Lisbon.")
        assert.include((yield* ada.botTexts()).at(-1)!, mine[0]!.inviteUrl!, "the invite is that agent's")
        assert.lengthOf(yield* pool.list({ claimedBy: ada.id.inboxId }), 1, "the cut claim's agent is gone")
        assert.lengthOf(yield* textsMatching(ada, /stopped working/), 0, "no notice about the cut claim's agent")
        const [left] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM bot_pending_claims`
        assert.strictEqual(left!.n, 0, "nothing pending")
        yield* second.close
      }),
  )

  it.effect("a pending /new of a process that is gone is resumed by a live one, its invite sent once", () =>
    Effect.gen(function* () {
      const pool = yield* Pool
      const sql = yield* SqlClient.SqlClient
      yield* pool.replenish(1)
      yield* pool.tick
      const testScope = yield* Effect.scope
      const live = yield* startProcess
      const bea = yield* live.open("Bea", testScope)
      // Two /new claims accepted by other processes: one is gone (its replica id has no lock, nobody lives under it),
      // one is alive (the test's own pool replica: left alone, it answers its own).
      const alive = pool.replica.id
      yield* sql`INSERT INTO bot_pending_claims (message_id, conversation_id, sender, agent_name, instructions, handled_by)
                 VALUES ('m-dead', ${bea.chatId}, ${bea.id.inboxId}, 'Scout', 'Find hikes.', ${randomUUID()}),
                        ('m-alive', ${bea.chatId}, ${bea.id.inboxId}, 'Other', NULL, ${alive})`
      yield* until(
        textsMatching(bea, /^Scout is ready/).pipe(Effect.map((t) => t.length >= 1)),
        "Scout's invite",
        60_000,
      )
      yield* Effect.sleep(Duration.seconds(3)) // several rounds of the resumer
      assert.lengthOf(yield* textsMatching(bea, /is ready/), 1, "one invite, and none for the live process's claim")
      const mine = yield* pool.list({ claimedBy: bea.id.inboxId, status: ["claimed"] })
      assert.deepStrictEqual(
        mine.map((i) => [i.agentName, i.instructions]),
        [["Scout", "Find hikes."]],
      )
      const rows = yield* sql<{
        messageId: string
        handledBy: string
      }>`SELECT message_id, handled_by FROM bot_pending_claims`
      assert.deepStrictEqual(rows, [{ messageId: "m-alive", handledBy: alive }], "the live process's claim is its own")
      yield* sql`DELETE FROM bot_pending_claims`
      yield* live.close
    }),
  )

  it.effect(
    "a /release cut by the bot's death after the agent was released: the takeover answers it released, once",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const cloud = yield* MemoryCloud
        const runtime = yield* AgentRuntime
        yield* pool.replenish(1)
        yield* pool.tick
        const testScope = yield* Effect.scope
        const first = yield* startProcess
        const cy = yield* first.open("Cy", testScope)
        yield* cy.say("/new")
        yield* cy.say("Ranger")
        const [, ready] = yield* cy.say("/skip", 2)
        assert.include(ready, "Ranger is ready")
        const destroys = cloud.stats.destroys

        // /release: the agent is draining and its compute being destroyed when the process dies; the destroy (it is
        // uninterruptible) ends, the reply never leaves.
        yield* runtime.hold("destroy")
        const before = (yield* cy.botTexts()).length
        yield* cy.client.sendText(cy.chatId, "/release Ranger")
        yield* until(
          Effect.sync(() => runtime.waiting("destroy") === 1),
          "the release to be under way",
        )
        const dying = yield* first.close.pipe(Effect.forkChild)
        yield* Effect.sleep(Duration.millis(300))
        yield* runtime.release("destroy")
        yield* Fiber.join(dying)
        assert.strictEqual((yield* cy.botTexts()).length, before, "the release was not answered before the death")
        assert.lengthOf(yield* pool.list({ claimedBy: cy.id.inboxId }), 0, "the agent is released")

        // The next process takes the unanswered message over: it says the agent was released, and releases nothing.
        const second = yield* startProcess
        const after = yield* cy.waitForBotTexts(before + 1, 30_000)
        yield* Effect.sleep(Duration.seconds(2)) // a second answer would come by now
        const answers = (yield* cy.botTexts()).slice(before)
        assert.deepStrictEqual(answers, ["Ranger was released and shut down."], JSON.stringify(after))
        assert.strictEqual(cloud.stats.destroys, destroys + 1, "destroyed once")
        assert.strictEqual(cloud.stats.destroyedTwice, 0)
        yield* second.close
      }),
  )

  it.effect(
    "the /new name step cut after the dialog moved on: the takeover sends its reply, the name is not taken for the instructions",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const sql = yield* SqlClient.SqlClient
        yield* pool.replenish(1)
        yield* pool.tick
        const testScope = yield* Effect.scope
        const first = yield* startProcess
        const di = yield* first.open("Di", testScope)
        yield* di.say("/new")
        const [asked] = yield* di.say("Pilot")
        assert.include(asked, "Great: Pilot. What should it do?")
        yield* first.close
        // The process died between the step (the dialog moved on to the instructions) and its answer: the ledger row
        // is as it leaves it then, taken by the dead process and not answered.
        const [nameMessage] = yield* sql<{ messageId: string }>`
          SELECT message_id FROM processed_messages WHERE answered_at IS NOT NULL ORDER BY processed_at DESC LIMIT 1`
        yield* sql`UPDATE processed_messages SET answered_at = NULL, handled_by = ${randomUUID()} WHERE message_id = ${nameMessage!.messageId}`
        const before = (yield* di.botTexts()).length
        const second = yield* startProcess
        yield* di.waitForBotTexts(before + 1, 30_000)
        yield* Effect.sleep(Duration.seconds(2)) // a claim's replies would come by now
        assert.deepStrictEqual((yield* di.botTexts()).slice(before), [asked], "the question again, nothing claimed")
        assert.lengthOf(yield* pool.list({ claimedBy: di.id.inboxId }), 0)
        // The dialog is where it was: the instructions still claim the agent.
        const [, ready] = yield* di.say("Fly to Porto.", 2)
        assert.include(ready, "Pilot is ready")
        yield* second.close
      }),
  )
  it.effect(
    "an /accept cut after the transfer: the takeover tells the recipient the agent is theirs and the giver it was accepted, once each, and moves nothing",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        yield* pool.replenish(1)
        yield* pool.tick
        const testScope = yield* Effect.scope
        const first = yield* startProcessDying("transfer")
        const ed = yield* first.open("Ed", testScope)
        const flo = yield* first.open("Flo", testScope)
        yield* ed.say("/new")
        yield* ed.say("Courier")
        const [, ready] = yield* ed.say("/skip", 2)
        assert.include(ready, "Courier is ready")
        const [offered] = yield* ed.say("/transfer Courier")
        const code = /\/accept ([0-9a-f]{20})/.exec(offered)![1]!
        const [agent] = yield* pool.list({ claimedBy: ed.id.inboxId })
        const yours = `Courier is yours now: /agent ${agent!.id.slice(0, 8)} shows it, /invite ${agent!.id.slice(0, 8)} its link.`
        // The process dies once the transfer is applied, before the offer's end, the giver's notice and the reply.
        const before = (yield* flo.botTexts()).length
        yield* flo.client.sendText(flo.chatId, `/accept ${code}`)
        yield* first.effectDone
        yield* first.close
        assert.strictEqual((yield* flo.botTexts()).length, before, "the /accept was not answered before the death")
        assert.strictEqual((yield* pool.get(agent!.id)).claimedBy, flo.id.inboxId, "the transfer was applied")

        const second = yield* startProcess
        yield* flo.waitForBotTexts(before + 1, 30_000)
        yield* Effect.sleep(Duration.seconds(2)) // a second answer would come by now
        assert.deepStrictEqual(
          (yield* flo.botTexts()).slice(before),
          [yours],
          "the recipient is told it is theirs, once",
        )
        assert.deepStrictEqual(
          (yield* pool.list({ claimedBy: flo.id.inboxId })).map((i) => i.id),
          [agent!.id],
          "the agent is the recipient's",
        )
        assert.lengthOf(yield* pool.list({ claimedBy: ed.id.inboxId }), 0, "and no longer the giver's")
        assert.lengthOf(yield* textsMatching(ed, /^Courier was accepted by/), 1, "the giver is told once")
        yield* second.close
      }),
  )

  it.effect(
    "an /invite <agent> new cut after the rotation: the takeover sends the link the rotation made, and rotates nothing",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const cloud = yield* MemoryCloud
        yield* pool.replenish(1)
        yield* pool.tick
        const testScope = yield* Effect.scope
        const first = yield* startProcessDying("rotateInvite")
        const gus = yield* first.open("Gus", testScope)
        yield* gus.say("/new")
        yield* gus.say("Lantern")
        const [, ready] = yield* gus.say("/skip", 2)
        assert.include(ready, "Lantern is ready")
        const [agent] = yield* pool.list({ claimedBy: gus.id.inboxId })
        // The process dies once the link is rotated (runtime and pool), before the reply.
        const before = (yield* gus.botTexts()).length
        yield* gus.client.sendText(gus.chatId, "/invite Lantern new")
        yield* first.effectDone
        yield* first.close
        assert.strictEqual((yield* gus.botTexts()).length, before, "the /invite new was not answered before the death")
        const link = (yield* pool.get(agent!.id)).inviteUrl!
        assert.notStrictEqual(link, agent!.inviteUrl, "the link was rotated")
        const rotated = `New invite link for Lantern; earlier links no longer let anyone in (people already in stay):\n${link}`

        const second = yield* startProcess
        yield* gus.waitForBotTexts(before + 1, 30_000)
        yield* Effect.sleep(Duration.seconds(2)) // a second answer would come by now
        assert.deepStrictEqual((yield* gus.botTexts()).slice(before), [rotated], "the rotation's link, once")
        // The agent's runtime still has the link the one rotation made: it is the one that lets people in.
        assert.strictEqual(cloud.instances.get(`mem-${agent!.id}`)?.inviteUrl, link, "rotated once: the link works")
        assert.strictEqual((yield* pool.get(agent!.id)).inviteUrl, link)
        yield* second.close
      }),
  )
  it.effect(
    "a /transfer and a /decline cut after their dialog change was recorded: each takeover sends the recorded reply, once",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const sql = yield* SqlClient.SqlClient
        yield* pool.replenish(1)
        yield* pool.tick
        const testScope = yield* Effect.scope
        // The process died after the step's transaction (the dialog change and its reply) and before the reply was
        // sent: the newest message's ledger row as that leaves it, taken by a process that is gone, not answered.
        const dieBeforeReply = Effect.gen(function* () {
          const [last] = yield* sql<{ messageId: string }>`
            SELECT message_id FROM processed_messages WHERE answered_at IS NOT NULL ORDER BY processed_at DESC LIMIT 1`
          yield* sql`UPDATE processed_messages SET answered_at = NULL, handled_by = ${randomUUID()}
                     WHERE message_id = ${last!.messageId}`
        })
        const first = yield* startProcess
        const hal = yield* first.open("Hal", testScope)
        const ivy = yield* first.open("Ivy", testScope)
        yield* hal.say("/new")
        yield* hal.say("Beacon")
        const [, ready] = yield* hal.say("/skip", 2)
        assert.include(ready, "Beacon is ready")
        const [offered] = yield* hal.say("/transfer Beacon")
        const code = /\/accept ([0-9a-f]{20})/.exec(offered)![1]!
        yield* first.close
        yield* dieBeforeReply
        const halBefore = (yield* hal.botTexts()).length
        const second = yield* startProcess
        yield* hal.waitForBotTexts(halBefore + 1, 30_000)
        yield* Effect.sleep(Duration.seconds(2)) // a second answer would come by now
        assert.deepStrictEqual((yield* hal.botTexts()).slice(halBefore), [offered], "the same code, once")

        const [declined] = yield* ivy.say(`/decline ${code}`)
        assert.strictEqual(declined, "Declined: Beacon stays with its owner.")
        yield* second.close
        yield* dieBeforeReply
        const ivyBefore = (yield* ivy.botTexts()).length
        const third = yield* startProcess
        yield* ivy.waitForBotTexts(ivyBefore + 1, 30_000)
        yield* Effect.sleep(Duration.seconds(2))
        assert.deepStrictEqual((yield* ivy.botTexts()).slice(ivyBefore), [declined], "declined, once")
        assert.lengthOf(yield* pool.list({ claimedBy: hal.id.inboxId }), 1, "Beacon stays with Hal")
        yield* third.close
      }),
  )
})
