import { randomUUID } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import { SqlClient } from "effect/sql"
import { Pool } from "@convos-agents/pool-core"
import { MemoryCloud } from "@convos-agents/pool-core/testing/pool"
import { AgentRuntime } from "./helpers.ts"
import { deps, startProcess, textsMatching, until } from "./processes.ts"

// Issue 25 item 2, "one user message gets one answer, whatever the timing", when the bot's process dies midway
// (processes.ts: a bot "process" and its death). Commands that record their effect: resume-commands.test.ts.

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
})
