import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { MemoryCloud } from "@convos-agents/pool-core/testing/pool"
import {
  createInviteSlug,
  displayNames,
  encodeMetadata,
  inviteUrlBase,
  randomTag,
  serveJoinRequests,
} from "@convos-agents/messaging/convos"
import { ManagerBot } from "../src/ManagerBot.ts"
import { admin, AgentRuntime, botTestLayer, openManagerChat } from "./helpers.ts"

// Claims over devnet with the real bot: the "setting up" line goes out while the claim is still running, a slow claim
// in one chat does not hold up other chats, failed claims say what happened and what to try, and /join sends the
// agent into a devnet conversation through that conversation's Convos invite.

const warm = (n: number) =>
  Effect.gen(function* () {
    const pool = yield* Pool
    yield* pool.replenish(n)
    yield* pool.tick
  })

/** Polls until `check` holds (or fails after `ms`). */
const eventually = <A>(what: string, get: Effect.Effect<A, unknown>, check: (a: A) => boolean, ms = 10_000) =>
  Effect.gen(function* () {
    const deadline = Date.now() + ms
    for (;;) {
      const a = yield* get
      if (check(a)) return a
      if (Date.now() > deadline) return yield* Effect.fail(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep(25)
    }
  })

layer(botTestLayer(), { timeout: "120 seconds", excludeTestServices: true })(
  "manager bot: claims over devnet",
  (it) => {
    it.effect(
      "the progress line arrives while the claim is still provisioning; other chats and the ops chat are answered meanwhile",
      () =>
        Effect.gen(function* () {
          const pool = yield* Pool
          const runtime = yield* AgentRuntime
          const bot = yield* ManagerBot
          yield* warm(1)
          const ada = yield* openManagerChat("Ada")
          const ben = yield* openManagerChat("Ben")
          const ops = yield* openManagerChat("Admin", bot.opsInviteUrl, admin)
          yield* ada.say("/new")
          yield* ada.say("Slowpoke")
          yield* runtime.hold("provision")
          yield* Effect.addFinalizer(() => runtime.release("provision")) // even when an assertion fails
          const before = (yield* ada.botTexts()).length
          yield* ada.client.sendText(ada.chatId, "Take your time.")
          // The progress line reaches Ada while provisions are held at the gate, so the claim cannot have finished.
          const [progress] = (yield* ada.waitForBotTexts(before + 1)).slice(before)
          assert.include(progress, "Setting up Slowpoke")
          yield* eventually(
            "the claim to reach the provision",
            Effect.sync(() => runtime.waiting("provision")),
            (n) => n === 1,
          )
          const [claiming] = yield* pool.list({ claimedBy: ada.id.inboxId })
          assert.strictEqual(claiming!.status, "claiming")
          // Meanwhile Ben's chat and the ops chat are answered: one slow /new does not block other conversations.
          assert.include((yield* ben.say("/help"))[0], "Here is what I can do")
          assert.include((yield* ops.say("/counts"))[0], "claiming 1")
          assert.strictEqual((yield* ada.botTexts()).length, before + 1, "no 'ready' before the provision finished")
          yield* runtime.release("provision")
          const [, ready] = (yield* ada.waitForBotTexts(before + 2)).slice(before)
          assert.include(ready, "Slowpoke is ready")
          assert.strictEqual((yield* pool.get(claiming!.id)).status, "claimed")
        }),
    )

    it.effect("a claim whose provision fails: the person is told what happened and what to try", () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const cloud = yield* MemoryCloud
        const cy = yield* openManagerChat("Cy")
        yield* warm(1)
        cloud.failProvisions(1, "the agent's gateway did not start")
        yield* cy.say("/new trip-planner")
        yield* cy.say("Voyager")
        const [, failed] = yield* cy.say("/skip", 2)
        assert.include(failed, "Setting up the agent failed: the agent's gateway did not start")
        assert.include(failed, "Nothing was charged to you")
        assert.include(failed, "Say /new trip-planner to try again")
        const [crashed] = yield* pool.list({ claimedBy: cy.id.inboxId })
        assert.strictEqual(crashed!.status, "crashed", "a half-provisioned agent is never handed to someone else")
        assert.include((yield* cy.say("/agents"))[0], "problem: the agent's gateway did not start")
      }),
    )

    it.effect("/join: the agent joins a devnet conversation through its Convos invite", () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const runtime = yield* AgentRuntime
        yield* warm(1)
        const dee = yield* openManagerChat("Dee")
        yield* dee.say("/new")
        yield* dee.say("Scribe")
        const [, ready] = yield* dee.say("/skip", 2)
        assert.include(ready, "Scribe is ready")
        const [agent] = yield* pool.list({ claimedBy: dee.id.inboxId })

        // Dee's own conversation and its invite, as the Convos app makes them; Dee's device lets joiners in.
        const tag = randomTag()
        const club = yield* dee.client.createGroup([], { name: "Book club", appData: encodeMetadata({ tag }) })
        const invite =
          inviteUrlBase("devnet") + createInviteSlug(dee.id, { conversationId: club.id, tag, name: "Book club" })
        yield* serveJoinRequests(dee.client, dee.id).pipe(Effect.forkScoped)

        assert.include((yield* dee.say(`/join Scribe ${invite}`))[0], "Scribe joined the conversation")
        const agentInbox = runtime.agentInbox(agent!.id)
        assert.isDefined(agentInbox)
        const members = yield* dee.client.members(club.id)
        assert.isTrue(
          members.some((m) => m.inboxId === agentInbox),
          "the agent is a member of Dee's conversation",
        )
        const names = yield* eventually(
          "the agent's profile in the conversation",
          dee.client.messages(club.id).pipe(Effect.map(displayNames)),
          (n) => n.has(agentInbox!),
        )
        assert.strictEqual(names.get(agentInbox!), "Scribe", "Convos shows the agent's name there")
        // Error path: a link that looks like an invite but is not one: the agent refuses it, the person is told what to do.
        const [refused] = yield* dee.say("/join Scribe https://dev.convos.org/v2?i=garbage")
        assert.include(refused, "refused join")
        assert.include(refused, "Check the invite link")
      }),
    )
  },
)
