import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { botTestLayer, openManagerChat } from "./helpers.ts"

// /invite <agent> new over devnet with the real bot: the owner gets a new link (the pool asks the agent's runtime,
// POST /convos/invite; that old links are refused on join is runtime/test/http-contract.test.ts), the pool records it,
// and a stranger can neither rotate the link nor learn anything of the agent.

layer(botTestLayer(), { timeout: "120 seconds", excludeTestServices: true })("manager bot: /invite new", (it) => {
  it.effect("the owner rotates the link; /invite then shows the new one; a stranger is refused", () =>
    Effect.gen(function* () {
      const pool = yield* Pool
      yield* pool.replenish(1)
      yield* pool.tick
      const ada = yield* openManagerChat("Ada")
      const eve = yield* openManagerChat("Eve")
      yield* ada.say("/new")
      yield* ada.say("Scout")
      const [, ready] = yield* ada.say("/skip", 2)
      assert.include(ready, "Scout is ready")
      const [agent] = yield* pool.list({ claimedBy: ada.id.inboxId })
      const old = agent!.inviteUrl!

      const [rotated] = yield* ada.say("/invite Scout new")
      assert.include(rotated, "New invite link for Scout; earlier links no longer let anyone in")
      const fresh = (yield* pool.get(agent!.id)).inviteUrl!
      assert.notStrictEqual(fresh, old)
      assert.include(rotated, fresh)
      assert.include((yield* ada.say("/invite Scout"))[0], fresh)
      assert.include((yield* ada.say("/invite Scout later"))[0], "/invite Scout new for a new one")

      const [stranger] = yield* eve.say(`/invite ${agent!.id.slice(0, 8)} new`)
      assert.include(stranger, "You have no agents yet")
      assert.strictEqual((yield* pool.get(agent!.id)).inviteUrl, fresh, "a stranger's /invite new changes nothing")
    }),
  )
})
