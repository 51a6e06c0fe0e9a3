import { assert, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { SqlClient } from "effect/sql"
import { Pool } from "@convos-agents/pool-core"
import { botTestLayer, openManagerChat, type Person } from "./helpers.ts"

// /transfer over devnet with the real bot and the pool on real SQL: the owner brings the other person into their
// manager chat (the link the bot gives), offers the agent, and it moves only when that person says /accept, within
// their AGENTS_PER_OWNER; a stranger can neither give nor take it; an offer expires (DIALOG_TTL_MINUTES).

const settings = { quotas: { agentsPerOwner: 1, apiClaimsPerHour: 0, webAgentTtl: Duration.hours(24) } }

const newAgent = (
  person: { say: (t: string, n?: number) => Effect.Effect<ReadonlyArray<string>, unknown> },
  name: string,
) =>
  Effect.gen(function* () {
    yield* person.say("/new")
    yield* person.say(name)
    const [, ready] = yield* person.say("/skip", 2)
    assert.include(ready, `${name} is ready`)
  })

/** Says `text` in a chat two people share and waits until the other one got the same replies too. */
const sharedSay =
  (speaker: Person, listener: Person) =>
  (text: string, n = 1) =>
    Effect.gen(function* () {
      const before = (yield* listener.botTexts()).length
      const replies = yield* speaker.say(text, n)
      yield* listener.waitForBotTexts(before + n)
      return replies
    })

layer(botTestLayer({ settings }), { timeout: "240 seconds", excludeTestServices: true })(
  "manager bot: /transfer",
  (it) => {
    it.effect("offer, accept within the new owner's limit, decline, expiry; strangers cannot give or take", () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        yield* pool.replenish(3)
        yield* pool.tick
        const ada = yield* openManagerChat("Ada")
        const eve = yield* openManagerChat("Eve")
        yield* newAgent(ada, "Scout")
        const [scout] = yield* pool.list({ claimedBy: ada.id.inboxId })

        // Nobody else in the chat: the bot says how to bring the person in.
        const [alone] = yield* ada.say("/transfer Scout")
        assert.include(alone, "nobody else is here")
        const link = /(https?:\/\/\S+)/.exec(alone)?.[1]
        assert.isDefined(link, alone)

        const adaSeen = (yield* ada.botTexts()).length
        const bobPerson = yield* openManagerChat("Bob", link)
        assert.strictEqual(bobPerson.chatId, ada.chatId, "the link brings Bob into Ada's manager chat")
        yield* ada.waitForBotTexts(adaSeen + 1) // the welcome Bob got is in Ada's chat too
        const bob = { ...bobPerson, say: sharedSay(bobPerson, ada) }
        const adaHere = { ...ada, say: sharedSay(ada, bobPerson) }
        const bobShort = bob.id.inboxId.slice(0, 8)
        const [offered] = yield* adaHere.say("/transfer Scout")
        assert.include(offered, `Offered Scout to ${bobShort}`)
        assert.include(offered, "/accept")
        assert.strictEqual((yield* pool.get(scout!.id)).claimedBy, ada.id.inboxId, "nothing moves before /accept")

        // Strangers: Eve (her own chat) has no offer; Bob cannot give Ada's agent away or even see it.
        assert.include((yield* eve.say("/accept"))[0], "Nobody has offered you an agent")
        const [bobGives] = yield* bob.say(`/transfer ${scout!.id.slice(0, 8)}`)
        assert.include(bobGives, "You have no agents yet")
        assert.notInclude(bobGives, "Scout")

        const [accepted] = yield* bob.say("/accept")
        assert.include(accepted, "Scout is yours now")
        const moved = yield* pool.get(scout!.id)
        assert.strictEqual(moved.claimedBy, bob.id.inboxId)
        assert.include((yield* adaHere.say("/agent Scout"))[0], "You have no agents yet")
        assert.include((yield* bob.say("/accept"))[0], "Nobody has offered you an agent", "the offer is used up")

        // Bob is at AGENTS_PER_OWNER (1): a second agent offered to him is refused on /accept; the offer stays open
        // until he declines.
        yield* newAgent(adaHere, "Rover")
        const [rover] = yield* pool.list({ claimedBy: ada.id.inboxId })
        assert.include((yield* adaHere.say("/transfer Rover"))[0], `Offered Rover to ${bobShort}`)
        const [over] = yield* bob.say("/accept")
        assert.include(over, "You already have 1 agent")
        assert.include(over, "stays open")
        assert.strictEqual((yield* pool.get(rover!.id)).claimedBy, ada.id.inboxId)
        assert.include((yield* bob.say("/decline"))[0], `Declined: Rover stays with ${ada.id.inboxId.slice(0, 8)}`)
        assert.include((yield* bob.say("/accept"))[0], "Nobody has offered you an agent")

        // An offer expires: one older than the dialog TTL is gone.
        yield* bob.say(`/release ${scout!.id.slice(0, 8)}`)
        assert.include((yield* adaHere.say("/transfer Rover"))[0], "Offered Rover")
        const sql = yield* SqlClient.SqlClient
        yield* sql`UPDATE bot_dialogs SET started_at = now() - interval '61 minutes' WHERE sender = ${bob.id.inboxId}`
        assert.include((yield* bob.say("/accept"))[0], "Nobody has offered you an agent")
        assert.strictEqual((yield* pool.get(rover!.id)).claimedBy, ada.id.inboxId)
      }),
    )
  },
)
