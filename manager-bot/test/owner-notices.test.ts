import { assert, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { MemoryCloud } from "@convos-agents/pool-core/testing/pool"
import { botTestLayer, openManagerChat } from "./helpers.ts"

// Owner notifications over devnet with the real bot: when a running agent crashes, its owner hears it in their
// manager chat with what to do (/restart among it); /restart brings it back and the owner hears it is back up; a
// stranger's /restart is refused without revealing the agent; a failed setup is answered by the claim alone.

layer(botTestLayer({ settings: { deathGrace: Duration.zero } }), { timeout: "120 seconds", excludeTestServices: true })(
  "manager bot: owner notices",
  (it) => {
    it.effect(
      "a running agent that crashes: its owner is told in the manager chat, with what to do; nobody else is",
      () =>
        Effect.gen(function* () {
          const pool = yield* Pool
          const cloud = yield* MemoryCloud
          yield* pool.replenish(1)
          yield* pool.tick
          const ada = yield* openManagerChat("Ada")
          const eve = yield* openManagerChat("Eve")
          yield* ada.say("/new")
          yield* ada.say("Voyager")
          const [, ready] = yield* ada.say("/skip", 2)
          assert.include(ready, "Voyager is ready")
          const [agent] = yield* pool.list({ claimedBy: ada.id.inboxId })
          const before = (yield* ada.botTexts()).length
          const eveBefore = (yield* eve.botTexts()).length

          cloud.setState(agent!.providerRef!, "failed")
          yield* pool.tick
          assert.strictEqual((yield* pool.get(agent!.id)).status, "crashed")
          const [notice] = (yield* ada.waitForBotTexts(before + 1)).slice(before)
          assert.include(notice, `⚠️ Voyager [${agent!.id.slice(0, 8)}] stopped working: memory reports it failed`)
          assert.include(notice, "/restart Voyager starts it again")
          assert.include(notice, "/agent Voyager shows its state; /release Voyager then /new")
          yield* Effect.sleep(Duration.millis(500))
          assert.strictEqual((yield* eve.botTexts()).length, eveBefore, "nobody else hears of it")

          // A stranger cannot restart it, and learns nothing about it.
          const [refused] = yield* eve.say("/restart Voyager")
          assert.include(refused, "You have no agents yet")
          assert.notInclude(refused, agent!.id.slice(0, 8))
          // The owner restarts it: the reply says so, and the owner notice says it is back up.
          const [restarting, back] = yield* ada.say("/restart Voyager", 2)
          assert.include(restarting, "Restarting Voyager")
          assert.include(back, `✅ Voyager [${agent!.id.slice(0, 8)}] is back up`)
          assert.strictEqual((yield* pool.get(agent!.id)).status, "claimed")
          assert.strictEqual(cloud.stats.restarts, 1)
          const [running] = yield* ada.say("/restart Voyager")
          assert.include(running, "Voyager is running, not crashed: there is nothing to restart")
          yield* Effect.sleep(Duration.millis(500))
          assert.strictEqual((yield* eve.botTexts()).length, eveBefore + 1, "Eve heard only her own answer")
        }),
    )

    it.effect("a claim whose setup fails is answered once, by the claim; no crash notice follows", () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const cloud = yield* MemoryCloud
        yield* pool.replenish(1)
        yield* pool.tick
        const cy = yield* openManagerChat("Cy")
        cloud.failProvisions(1, "the agent's gateway did not start")
        yield* cy.say("/new")
        yield* cy.say("/skip")
        const [, failed] = yield* cy.say("/skip", 2)
        assert.include(failed, "Setting up the agent failed")
        const count = (yield* cy.botTexts()).length
        yield* Effect.sleep(Duration.millis(1_000))
        assert.strictEqual((yield* cy.botTexts()).length, count, "no second message about the same failure")
      }),
    )
  },
)
