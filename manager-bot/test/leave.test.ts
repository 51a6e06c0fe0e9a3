import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Pool } from "@convos-agents/pool-core"
import {
  createInviteSlug,
  encodeMetadata,
  inviteUrlBase,
  randomTag,
  serveJoinRequests,
} from "@convos-agents/messaging/convos"
import { AgentRuntime, botTestLayer, openManagerChat } from "./helpers.ts"

// /leave <agent> <conversation> over devnet with the real bot and real SQL: the agent joined Bob's conversation for
// real (Convos join protocol on the devnet), /agent numbers its conversations, and /leave with that number takes it out
// of Bob's group (Bob sees it removed). A stranger is refused and learns nothing; the runtime's side (it stops
// answering there) is runtime/test/leave.test.ts.

layer(botTestLayer(), { timeout: "120 seconds", excludeTestServices: true })("manager bot: /leave", (it) => {
  it.effect(
    "the owner's agent leaves a conversation named as /agent lists it; a member sees it go; a stranger is refused",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const runtime = yield* AgentRuntime
        yield* pool.replenish(1)
        yield* pool.tick
        const ada = yield* openManagerChat("Ada")
        const bob = yield* openManagerChat("Bob")
        const eve = yield* openManagerChat("Eve")
        yield* ada.say("/new")
        yield* ada.say("Scout")
        assert.include((yield* ada.say("/skip", 2))[1], "Scout is ready")
        const [agent] = yield* pool.list({ claimedBy: ada.id.inboxId })

        // Bob's conversation and its invite, as the Convos app makes them; Bob's device lets joiners in.
        const tag = randomTag()
        const club = yield* bob.client.createGroup([], { name: "Book club", appData: encodeMetadata({ tag }) })
        const invite =
          inviteUrlBase("devnet") + createInviteSlug(bob.id, { conversationId: club.id, tag, name: "Book club" })
        yield* serveJoinRequests(bob.client, bob.id).pipe(Effect.forkScoped)
        assert.include((yield* ada.say(`/join Scout ${invite}`))[0], "Scout joined the conversation")
        const agentInbox = runtime.agentInbox(agent!.id)!
        const inClub = () =>
          bob.client.members(club.id).pipe(Effect.map((ms) => ms.some((m) => m.inboxId === agentInbox)))
        assert.isTrue(yield* inClub())

        const [detail] = yield* ada.say("/agent Scout")
        const short = club.id.slice(0, 8)
        assert.include(detail, "conversations (/leave Scout <number> to leave one):")
        assert.include(detail, `2. Book club [${short}]`)
        assert.include(detail, `1. (no name) [${agent!.conversationId!.slice(0, 8)}] (its own)`)
        assert.include((yield* ada.say("/help"))[0], "/leave <agent> <conversation>")

        // A stranger names the agent by name or short id and the conversation exactly: refused, nothing learned.
        for (const ref of ["Scout", agent!.id.slice(0, 8)]) {
          const [refused] = yield* eve.say(`/leave ${ref} 2`)
          assert.include(refused, "You have no agents yet")
          assert.notInclude(refused, "Book club")
        }
        assert.isTrue(yield* inClub(), "a stranger's /leave changes nothing")

        const [unknown] = yield* ada.say("/leave Scout 7")
        assert.include(unknown, 'Scout has no conversation "7"')
        assert.include(unknown, `2. Book club [${short}]`)

        const [left] = yield* ada.say(`/leave Scout 2`)
        assert.include(left, `Scout left Book club [${short}]`)
        // Bob sees it go: no longer a member, and a membership change removing it.
        assert.isFalse(yield* inClub())
        const removed = (yield* bob.client.messages(club.id)).flatMap((m) => m.membership?.removed ?? [])
        assert.include(removed, agentInbox)
        const [after] = yield* ada.say("/agent Scout")
        assert.notInclude(after, "Book club")
        const [event] = yield* pool.recentEvents({ limit: 1, instanceId: agent!.id })
        assert.deepStrictEqual([event?.kind, event?.detail], ["leave", club.id])
      }),
  )
})
