import { assert, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { ProviderFakes, testKeyName } from "@convos-agents/pool-core/testing/providers"
import { botWithProvidersTestLayer, openManagerChat } from "./helpers.ts"

// The spend-cap notice: the real bot over devnet, the pool with live AgentResources and a loopback OpenRouter whose
// usage the test sets. An agent at its cap is news to its owner once (in their manager chat, with what to do), not
// every round; back under the cap (a new period, a top-up) and at it again is news again. Nobody else hears of it.

layer(botWithProvidersTestLayer({ SPEND_CHECK_INTERVAL: "200 millis" }), {
  timeout: "120 seconds",
  excludeTestServices: true,
})("manager bot: spend-cap notices", (it) => {
  it.effect("an agent that reaches its cap: its owner is told once, with what to do; again after it was under", () =>
    Effect.gen(function* () {
      const pool = yield* Pool
      const fakes = yield* ProviderFakes
      yield* pool.replenish(1)
      yield* pool.tick
      const fay = yield* openManagerChat("Fay")
      const gus = yield* openManagerChat("Gus")
      yield* fay.say("/new trip-planner")
      yield* fay.say("/skip")
      const [, ready] = yield* fay.say("/skip", 2)
      assert.include(ready, "Trip Planner is ready")
      const [agent] = yield* pool.list({ claimedBy: fay.id.inboxId })
      const hash = [...fakes.openrouter.state.keys.values()].find((k) => k.name === testKeyName(agent!.id))!.hash
      const quiet = (yield* fay.botTexts()).length
      fakes.openrouter.state.setUsage(hash, { total: 5, thisPeriod: 3 })
      yield* Effect.sleep(Duration.seconds(1))
      assert.strictEqual((yield* fay.botTexts()).length, quiet, "under the cap: nothing to say")

      fakes.openrouter.state.setUsage(hash, { total: 25, thisPeriod: 20 })
      const [notice] = (yield* fay.waitForBotTexts(quiet + 1)).slice(quiet)
      assert.include(notice, `💸 Trip Planner [${agent!.id.slice(0, 8)}] reached its spending cap ($20.00 of $20.00)`)
      assert.include(notice, "Ask the operators for a top-up")
      assert.include(notice, "starts again next month")
      yield* Effect.sleep(Duration.seconds(1))
      assert.strictEqual((yield* fay.botTexts()).length, quiet + 1, "said once, not every round")

      fakes.openrouter.state.setUsage(hash, { total: 25, thisPeriod: 1 })
      yield* Effect.sleep(Duration.seconds(1))
      fakes.openrouter.state.setUsage(hash, { total: 45, thisPeriod: 21 })
      const [again] = (yield* fay.waitForBotTexts(quiet + 2)).slice(quiet + 1)
      assert.include(again, "reached its spending cap ($21.00 of $20.00)")
      assert.strictEqual((yield* gus.botTexts()).length, 1, "Gus only got his welcome")
    }),
  )
})
