import { assert, layer } from "@effect/vitest"
import { Effect, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { Pool } from "@convos-agents/pool-core"
import { MemoryCloud } from "@convos-agents/pool-core/testing/pool"
import { BotStore } from "../src/store.ts"
import { botTestParts, openManagerChat, type Person } from "./helpers.ts"

// Redelivery over the real bot: the bot restarts, and its message stream replays the last minute (the same message
// ids again). Nothing is claimed twice — first because the bot remembers which messages it handled, and even when
// that memory is lost, because the claim's idempotency key is the chat message id (chat:<messageId>).

const { deps, bot } = botTestParts()

/** Runs `body` with a bot started for it, and stops the bot afterwards (a restart is two of these in a row). */
const withBot = <A, E, R>(body: Effect.Effect<A, E, R>) => body.pipe(Effect.provide(bot), Effect.scoped)

/**
 * Sends a marker and waits for its answer; returns everything the bot sent from `since` on. Messages of one chat are
 * answered in order, so once the marker is answered, so is everything the replay brought before it.
 */
const settle = (person: Person, since: number, marker: string) =>
  Effect.gen(function* () {
    yield* person.client.sendText(person.chatId, `/${marker}`)
    for (let i = 0; i < 300; i++) {
      const texts = (yield* person.botTexts()).slice(since)
      if (texts.some((t) => t.includes(`I don't know /${marker}`))) return texts
      yield* Effect.sleep(50)
    }
    return yield* Effect.fail(new Error(`no answer to /${marker}`))
  })

layer(deps, { timeout: "120 seconds", excludeTestServices: true })("manager bot: redelivered messages", (it) => {
  it.effect("after a restart the replayed /new dialog claims nothing again, with or without the bot's ledger", () =>
    Effect.gen(function* () {
      const pool = yield* Pool
      const cloud = yield* MemoryCloud
      const sql = yield* SqlClient.SqlClient
      yield* pool.replenish(2)
      yield* pool.tick

      // First run: the person opens the manager chat and gets an agent (the person stays connected across restarts).
      let ada: Person | undefined
      const testScope = yield* Effect.scope
      const ready = yield* withBot(
        Effect.gen(function* () {
          ada = yield* openManagerChat("Ada").pipe(Scope.provide(testScope))
          yield* ada.say("/new")
          yield* ada.say("Trippy")
          const [, done] = yield* ada.say("Plan our trip to Lisbon.", 2)
          return done!
        }),
      )
      assert.include(ready, "Trippy is ready")
      const provisions = cloud.stats.provisions
      const mine = () => pool.list({ claimedBy: ada!.id.inboxId })
      assert.strictEqual((yield* mine()).length, 1)

      // Restart: the stream replays every message of the last minute; all were handled, so none is answered again.
      const before = (yield* ada!.botTexts()).length
      const afterRestart = yield* withBot(settle(ada!, before, "markerone"))
      assert.strictEqual(afterRestart.length, 1, `only the new message is answered: ${JSON.stringify(afterRestart)}`)
      assert.strictEqual((yield* mine()).length, 1)
      assert.strictEqual(cloud.stats.provisions, provisions, "no second provision")

      // Lose the ledger and restart again: the replayed dialog runs again, but its claim carries the same key
      // (chat:<message id>), so the pool answers with the first claim instead of claiming another agent.
      yield* sql`DELETE FROM processed_messages`
      const replayed = yield* withBot(settle(ada!, before + 1, "markertwo"))
      assert.isTrue(
        replayed.some((t) => t.includes("What should it be called?")),
        `the dialog was replayed: ${JSON.stringify(replayed)}`,
      )
      const again = replayed.filter((t) => t.includes("Trippy is ready"))
      assert.strictEqual(
        again.length,
        1,
        `the replayed instructions get the first claim's answer: ${JSON.stringify(replayed)}`,
      )
      assert.strictEqual(again[0], ready, "same agent, same link")
      assert.strictEqual((yield* mine()).length, 1, "still one agent")
      assert.strictEqual(cloud.stats.provisions, provisions, "still no second provision")
      assert.strictEqual((yield* pool.counts).idle, 1, "the second warm agent is still free")
    }),
  )

  it.effect("a restart in the middle of the /new dialog continues it: the answer after the restart finishes it", () =>
    Effect.gen(function* () {
      const pool = yield* Pool
      yield* pool.replenish(1)
      yield* pool.tick
      let eve: Person | undefined
      const testScope = yield* Effect.scope
      const asked = yield* withBot(
        Effect.gen(function* () {
          eve = yield* openManagerChat("Eve").pipe(Scope.provide(testScope))
          yield* eve.say("/new")
          return (yield* eve.say("Scout"))[0]!
        }),
      )
      assert.include(asked, "What should it do?")
      // The bot is stopped; a new one starts over the same database and gets the answer to its last question.
      const before = (yield* eve!.botTexts()).length
      const texts = yield* withBot(
        Effect.gen(function* () {
          yield* eve!.client.sendText(eve!.chatId, "Find hikes near Lisbon.")
          return (yield* eve!.waitForBotTexts(before + 2, 30_000)).slice(before)
        }),
      )
      assert.include(texts[0], "Setting up Scout", `the dialog went on: ${JSON.stringify(texts)}`)
      assert.include(texts[1], "Scout is ready")
      const [agent] = yield* pool.list({ claimedBy: eve!.id.inboxId })
      assert.strictEqual(agent!.agentName, "Scout")
      assert.strictEqual(agent!.instructions, "Find hikes near Lisbon.")
    }),
  )

  it.effect(
    "a message the previous bot took but never answered (it died mid-answer) is answered after the restart",
    () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        let bea: Person | undefined
        const testScope = yield* Effect.scope
        yield* withBot(
          Effect.gen(function* () {
            bea = yield* openManagerChat("Bea").pipe(Scope.provide(testScope))
          }),
        )
        const before = (yield* bea!.botTexts()).length
        // While no bot runs, Bea asks; a bot that crashed had taken the message (ledger row) but sent nothing.
        const asked = yield* bea!.client.sendText(bea!.chatId, "/templates")
        yield* sql`INSERT INTO processed_messages (message_id, handled_by) VALUES (${asked}, 'a-bot-that-died')`
        const afterRestart = yield* withBot(settle(bea!, before, "markerthree"))
        assert.isTrue(
          afterRestart.some((t) => t.includes("Agent templates")),
          `the taken-but-unanswered message is answered: ${JSON.stringify(afterRestart)}`,
        )
        assert.strictEqual(afterRestart.filter((t) => t.includes("Agent templates")).length, 1, "answered once")
        const [row] = yield* sql<{
          answered: boolean
        }>`SELECT answered_at IS NOT NULL AS answered FROM processed_messages WHERE message_id = ${asked}`
        assert.isTrue(row!.answered, "and now recorded as answered")

        // Another restart: answered, so never again.
        const count = (yield* bea!.botTexts()).length
        const again = yield* withBot(settle(bea!, count, "markerfour"))
        assert.isFalse(
          again.some((t) => t.includes("Agent templates")),
          `not answered twice: ${JSON.stringify(again)}`,
        )
      }),
  )

  it.effect("the ledger forgets only answered messages older than the replay window", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const store = yield* Effect.provide(Effect.service(BotStore), BotStore.layer)
      yield* sql`INSERT INTO processed_messages (message_id, handled_by, processed_at, answered_at) VALUES
        ('old-answered', 'b', now() - interval '3 hours', now() - interval '3 hours'),
        ('old-unanswered', 'b', now() - interval '3 hours', NULL),
        ('new-answered', 'b', now(), now())`
      const pruned = yield* store.pruneAnswered(new Date(Date.now() - 60 * 60_000))
      assert.strictEqual(pruned, 1)
      const left = yield* sql<{
        messageId: string
      }>`SELECT message_id FROM processed_messages WHERE message_id IN ('old-answered', 'old-unanswered', 'new-answered') ORDER BY message_id`
      assert.deepStrictEqual(
        left.map((r) => r.messageId),
        ["new-answered", "old-unanswered"],
      )
    }),
  )

  it.effect("a message taken by a live bot process is left to it; of a gone one, taken over once", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const store = yield* Effect.provide(Effect.service(BotStore), BotStore.layer)
      const alive = (_: string) => Effect.succeed(false)
      const dead = (_: string) => Effect.succeed(true)
      assert.strictEqual(yield* store.takeMessage("m-new", "me", alive), "taken", "a new message is taken")
      assert.strictEqual(
        yield* store.takeMessage("m-new", "me", dead),
        "done",
        "a redelivery to the same process is not",
      )
      yield* sql`INSERT INTO processed_messages (message_id, handled_by) VALUES ('m-other', 'other-process')`
      assert.strictEqual(
        yield* store.takeMessage("m-other", "me", alive),
        "held",
        "a live process is still answering it: watched",
      )
      // Only the first holder is gone; "me" and "you" are both alive, so whichever loses must not take it from the winner.
      const onlyOtherGone = (h: string) => Effect.succeed(h === "other-process")
      const both = yield* Effect.all(
        [store.takeMessage("m-other", "me", onlyOtherGone), store.takeMessage("m-other", "you", onlyOtherGone)],
        { concurrency: 2 },
      )
      assert.deepStrictEqual([...both].sort(), ["held", "taken"], "of two takeovers at once, one wins")
      const winner = both[0] === "taken" ? "me" : "you"
      // The one-answer guarantee: the old holder (it came back after a blip) and the loser cannot claim the answer;
      // the winner claims it once, before it sends.
      assert.isFalse(yield* store.claimAnswer("m-other", "other-process"), "the old holder may not answer any more")
      assert.isFalse(yield* store.claimAnswer("m-other", winner === "me" ? "you" : "me"), "nor the loser")
      assert.isTrue(yield* store.claimAnswer("m-other", winner), "the new holder claims the answer")
      assert.isFalse(yield* store.claimAnswer("m-other", winner), "once")
      assert.strictEqual(
        yield* store.takeMessage("m-other", "third", dead),
        "done",
        "an answered message is never taken again",
      )
    }),
  )
})
