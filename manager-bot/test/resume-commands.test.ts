import { randomUUID } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { SqlClient } from "effect/sql"
import { Pool } from "@convos-agents/pool-core"
import { MemoryCloud } from "@convos-agents/pool-core/testing/pool"
import { deps, startProcess, startProcessDying, textsMatching } from "./processes.ts"

// Issue 25 item 2 for the commands that record their effect and reply (journal.ts): /accept, /invite <agent> new,
// /transfer, /decline. The bot's process dies after the effect and before the reply; the next process (processes.ts)
// takes the message over and must send the right reply once, without running the command again.

layer(deps, { timeout: "180 seconds", excludeTestServices: true })(
  "manager bot: a command cut by the process's death",
  (it) => {
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
          assert.strictEqual(
            (yield* gus.botTexts()).length,
            before,
            "the /invite new was not answered before the death",
          )
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
  },
)
