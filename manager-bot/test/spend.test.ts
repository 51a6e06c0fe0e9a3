import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { ProviderFakes, testKeyName } from "@convos-agents/pool-core/testing/providers"
import { botWithProvidersTestLayer, openManagerChat } from "./helpers.ts"

// The person's /agents shows what each agent has spent on its OpenRouter key: the real bot over devnet, the pool
// with live AgentResources, and a loopback OpenRouter whose usage the test sets.

layer(botWithProvidersTestLayer(), { timeout: "120 seconds", excludeTestServices: true })(
  "manager bot: agent spend",
  (it) => {
    it.effect(
      "/agents shows this month's spend against the limit; without an answer from OpenRouter it lists the agents without it",
      () =>
        Effect.gen(function* () {
          const pool = yield* Pool
          const fakes = yield* ProviderFakes
          yield* pool.replenish(1)
          yield* pool.tick
          const fay = yield* openManagerChat("Fay")
          yield* fay.say("/new trip-planner")
          yield* fay.say("/skip")
          const [, ready] = yield* fay.say("/skip", 2)
          assert.include(ready, "Trip Planner is ready")
          const [agent] = yield* pool.list({ claimedBy: fay.id.inboxId })
          const hash = [...fakes.openrouter.state.keys.values()].find((k) => k.name === testKeyName(agent!.id))!.hash
          fakes.openrouter.state.setUsage(hash, { total: 5.5, thisPeriod: 0.42 })

          const [list] = yield* fay.say("/agents")
          assert.include(
            list,
            `Trip Planner [${agent!.id.slice(0, 8)}] — running · trip-planner · $0.42 of $20.00 this month`,
          )

          fakes.openrouter.fail((r) =>
            r.method === "GET"
              ? { status: 500, json: { error: { message: "internal" } } }
              : fakes.openrouter.state.handle(r),
          )
          const [degraded] = yield* fay
            .say("/agents")
            .pipe(Effect.ensuring(Effect.sync(() => fakes.openrouter.restore())))
          assert.include(degraded, `Trip Planner [${agent!.id.slice(0, 8)}] — running · trip-planner`)
          assert.notInclude(degraded, "$")
        }),
    )
  },
)
