import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { botTestLayer, openManagerChat } from "./helpers.ts"

// /agent <agent>: the detail view over devnet with the real bot, for the owner only. A stranger naming the agent by
// its name or short id learns nothing about it.

layer(botTestLayer(), { timeout: "120 seconds", excludeTestServices: true })("manager bot: /agent", (it) => {
  it.effect(
    "the owner sees state, template, instructions, resources, spend and conversation; a stranger sees nothing",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        yield* pool.replenish(1)
        yield* pool.tick
        const ada = yield* openManagerChat("Ada")
        yield* ada.say("/new trip-planner")
        yield* ada.say("Voyager")
        const [, ready] = yield* ada.say("Plan a week in Lisbon.\nKeep it cheap.", 2)
        assert.include(ready, "Voyager is ready")
        const [agent] = yield* pool.list({ claimedBy: ada.id.inboxId })

        const [detail] = yield* ada.say("/agent Voyager")
        const lines = detail!.split("\n")
        assert.strictEqual(lines[0], `Voyager [${agent!.id.slice(0, 8)}]`)
        assert.include(detail, "status: running")
        assert.include(detail, "template: trip-planner")
        assert.include(detail, "email: none")
        assert.include(detail, "phone: none")
        assert.include(detail, "wallet: none")
        assert.include(detail, "spend: —")
        assert.include(detail, `invite: ${agent!.inviteUrl}`)
        assert.include(
          detail,
          "instructions:\nPlan a week in Lisbon.\nKeep it cheap.",
          "the current instructions, line breaks kept",
        )
        assert.include((yield* ada.say(`/agent ${agent!.id.slice(0, 8)}`))[0], "status: running")

        const eve = yield* openManagerChat("Eve")
        for (const ref of ["Voyager", agent!.id.slice(0, 8), agent!.id]) {
          const [refused] = yield* eve.say(`/agent ${ref}`)
          assert.include(refused, "You have no agents yet")
          assert.notInclude(refused, "Plan a week")
        }
        assert.include((yield* ada.say("/agent"))[0], "Usage: /agent <agent>")
        assert.include((yield* ada.say("/help"))[0], "/agent <agent> — everything about one of your agents")
      }),
  )
})
