import { assert, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { SqlClient } from "effect/sql"
import { Pool } from "@convos-agents/pool-core"
import { botTestLayer, openManagerChat, type Person } from "./helpers.ts"

// /transfer over devnet with the real bot and the pool on real SQL. Manager chats are private, so the owner gets a
// one-time code to pass on; the other person says /accept <code> in their own manager chat, and the agent moves only
// then, within their AGENTS_PER_OWNER; the giver hears of it. A stranger can neither give someone else's agent nor
// learn of it; a wrong, used or expired code takes nothing.

const settings = { quotas: { agentsPerOwner: 1, apiClaimsPerHour: 0, webAgentTtl: Duration.hours(24) } }

const newAgent = (person: Person, name: string) =>
  Effect.gen(function* () {
    yield* person.say("/new")
    yield* person.say(name)
    const [, ready] = yield* person.say("/skip", 2)
    assert.include(ready, `${name} is ready`)
  })

const codeIn = (text: string) => {
  const code = /\/accept ([0-9a-f]{20})/.exec(text)?.[1]
  assert.isDefined(code, text)
  return code!
}

layer(botTestLayer({ settings }), { timeout: "240 seconds", excludeTestServices: true })(
  "manager bot: /transfer",
  (it) => {
    it.effect("a code to pass on; accept within the new owner's limit, decline, expiry; strangers take nothing", () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        yield* pool.replenish(3)
        yield* pool.tick
        const ada = yield* openManagerChat("Ada")
        const bob = yield* openManagerChat("Bob")
        const eve = yield* openManagerChat("Eve")
        yield* newAgent(ada, "Scout")
        const [scout] = yield* pool.list({ claimedBy: ada.id.inboxId })

        const [offered] = yield* ada.say("/transfer Scout")
        assert.include(offered, "To give Scout to someone, send them this code")
        const code = codeIn(offered)
        assert.strictEqual((yield* pool.get(scout!.id)).claimedBy, ada.id.inboxId, "nothing moves before /accept")

        // A stranger cannot give Ada's agent away, and learns nothing of it; a wrong code takes nothing.
        const [eveGives] = yield* eve.say(`/transfer ${scout!.id.slice(0, 8)}`)
        assert.include(eveGives, "You have no agents yet")
        assert.notInclude(eveGives, "Scout")
        assert.include((yield* eve.say(`/accept ${"0".repeat(20)}`))[0], "There is no open offer with that code")
        assert.include((yield* eve.say("/accept not-a-code"))[0], "There is no open offer with that code")

        const adaBefore = (yield* ada.botTexts()).length
        const [accepted] = yield* bob.say(`/accept ${code.toUpperCase()}`)
        assert.include(accepted, "Scout is yours now")
        assert.strictEqual((yield* pool.get(scout!.id)).claimedBy, bob.id.inboxId)
        const [told] = (yield* ada.waitForBotTexts(adaBefore + 1)).slice(adaBefore)
        assert.include(told, `Scout was accepted by ${bob.id.inboxId.slice(0, 8)}`)
        assert.include((yield* ada.say("/agent Scout"))[0], "You have no agents yet")
        assert.include((yield* eve.say(`/accept ${code}`))[0], "There is no open offer", "a code is taken once")

        // Bob is at AGENTS_PER_OWNER (1): a second agent offered to him is refused on /accept; the offer stays open
        // until he declines.
        yield* newAgent(ada, "Rover")
        const [rover] = yield* pool.list({ claimedBy: ada.id.inboxId })
        const second = codeIn((yield* ada.say("/transfer Rover"))[0]!)
        const [over] = yield* bob.say(`/accept ${second}`)
        assert.include(over, "You already have 1 agent")
        assert.include(over, "stays open")
        assert.strictEqual((yield* pool.get(rover!.id)).claimedBy, ada.id.inboxId)
        const adaBeforeDecline = (yield* ada.botTexts()).length
        assert.include((yield* bob.say(`/decline ${second}`))[0], "Declined: Rover stays with its owner")
        assert.include((yield* ada.waitForBotTexts(adaBeforeDecline + 1))[adaBeforeDecline], "declined Rover")
        assert.include((yield* bob.say(`/accept ${second}`))[0], "There is no open offer")

        // An offer expires with the dialog TTL.
        yield* bob.say(`/release ${scout!.id.slice(0, 8)}`)
        const third = codeIn((yield* ada.say("/transfer Rover"))[0]!)
        const sql = yield* SqlClient.SqlClient
        yield* sql`UPDATE bot_dialogs SET started_at = now() - interval '61 minutes' WHERE conversation_id = ${`transfer-offer:${third}`}`
        assert.include((yield* bob.say(`/accept ${third}`))[0], "There is no open offer")
        assert.strictEqual((yield* pool.get(rover!.id)).claimedBy, ada.id.inboxId)
      }),
    )
  },
)
