import { assert, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { botTestLayer, openManagerChat } from "./helpers.ts"

// Waiting claims (issue 18): /new on an empty pool does not say "try again": the pool starts an agent, the person is
// told about when it will be ready, and the invite follows in the same chat. Several people waiting are served in
// the order they asked. A pool that cannot grow (POOL_MAX_TOTAL reached) says so after CLAIM_WAIT.

const inviteOf = (text: string) => /https:\/\/dev\.convos\.org\/v2\?i=\S+/.exec(text)?.[0]

layer(botTestLayer(), { timeout: "120 seconds", excludeTestServices: true })("manager bot: waiting claims", (it) => {
  it.effect(
    "/new on an empty pool: the bot says an agent is starting with an estimate, then sends the invite; nothing is retyped",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        assert.strictEqual((yield* pool.counts).total, 0)
        const cy = yield* openManagerChat("Cy")
        yield* cy.say("/new")
        yield* cy.say("Scout")
        const [working, waiting, ready] = yield* cy.say("Find the best hikes near Lisbon.", 3)
        assert.include(working, "Setting up Scout")
        assert.match(
          waiting,
          /No agent is free right now, so the pool is starting one for you\. Scout will be ready in about \d+ s/,
        )
        assert.include(ready, "Scout is ready")
        const [mine] = yield* pool.list({ claimedBy: cy.id.inboxId })
        assert.strictEqual(mine!.status, "claimed")
        assert.strictEqual(mine!.instructions, "Find the best hikes near Lisbon.")
        assert.strictEqual(inviteOf(ready), mine!.inviteUrl)
      }),
  )

  it.effect("two people waiting at once are served first come, first served", () =>
    Effect.gen(function* () {
      const pool = yield* Pool
      const ann = yield* openManagerChat("Ann")
      const bea = yield* openManagerChat("Bea")
      for (const p of [ann, bea]) {
        yield* p.say("/new")
        yield* p.say("/skip")
      }
      const before = { ann: (yield* ann.botTexts()).length, bea: (yield* bea.botTexts()).length }
      yield* ann.client.sendText(ann.chatId, "/skip")
      yield* Effect.sleep(Duration.millis(300))
      yield* bea.client.sendText(bea.chatId, "/skip")
      const annTexts = (yield* ann.waitForBotTexts(before.ann + 3, 60_000)).slice(before.ann)
      const beaTexts = (yield* bea.waitForBotTexts(before.bea + 3, 60_000)).slice(before.bea)
      assert.include(annTexts[2], "is ready")
      assert.include(beaTexts[2], "is ready")
      const [annAgent] = yield* pool.list({ claimedBy: ann.id.inboxId })
      const [beaAgent] = yield* pool.list({ claimedBy: bea.id.inboxId })
      assert.isTrue(annAgent!.claimedAt! <= beaAgent!.claimedAt!, "Ann asked first and got her agent first")
    }),
  )
})

layer(botTestLayer({ settings: { maxTotal: 0, claimWait: Duration.seconds(2) } }), {
  timeout: "60 seconds",
  excludeTestServices: true,
})("manager bot: a pool that cannot grow", (it) => {
  it.effect("after CLAIM_WAIT the person hears why there is no agent and what to do", () =>
    Effect.gen(function* () {
      const dee = yield* openManagerChat("Dee")
      yield* dee.say("/new")
      yield* dee.say("/skip")
      const [, waiting, none] = yield* dee.say("/skip", 3)
      assert.include(waiting, "will be ready in about")
      assert.include(none, "No agent became ready within 2s")
      assert.include(none, "Say /new to try again")
    }),
  )
})
