import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { MAX_MESSAGE_CHARS } from "../src/bot/rateLimit.ts"
import { ManagerBot } from "../src/ManagerBot.ts"
import { admin, botTestLayer, openManagerChat } from "./helpers.ts"

const warm = (n: number) =>
  Effect.gen(function* () {
    const pool = yield* Pool
    yield* pool.replenish(n)
    yield* pool.tick
  })

layer(botTestLayer(), { timeout: "120 seconds", excludeTestServices: true })("manager bot over devnet", (it) => {
  it.effect("the full dialog: open the bot's invite, /new, name, instructions → the agent's invite link", () =>
    Effect.gen(function* () {
      yield* warm(2)
      const pool = yield* Pool
      const ada = yield* openManagerChat("Ada")
      // The welcome follows the join (the bot adds the person, then greets): wait for it.
      let welcome: unknown
      for (let i = 0; i < 100 && !welcome; i++) {
        ;[welcome] = yield* ada.client
          .messages(ada.chatId)
          .pipe(Effect.map((ms) => ms.filter((m) => m.text?.includes("agent manager"))))
        if (!welcome) yield* Effect.sleep(50)
      }
      assert.isDefined(welcome, "the bot greets a new manager chat")
      const [askName] = yield* ada.say("/new")
      assert.include(askName, "What should it be called?")
      const [askInstructions] = yield* ada.say("Trippy")
      assert.include(askInstructions, "What should it do?")
      const [working, done] = yield* ada.say("Plan our trip to Lisbon. Be brief.", 2)
      assert.include(working, "Setting up Trippy")
      assert.include(done, "Trippy is ready")
      assert.match(done, /https:\/\/dev\.convos\.org\/v2\?i=\S+/)
      const mine = yield* pool.list({ claimedBy: ada.id.inboxId })
      assert.strictEqual(mine.length, 1)
      assert.strictEqual(mine[0]!.agentName, "Trippy")
      assert.strictEqual(mine[0]!.instructions, "Plan our trip to Lisbon. Be brief.")
      assert.include(done, mine[0]!.inviteUrl!)
    }),
  )

  it.effect("each user command: happy path and error path; nobody reaches another person's agent", () =>
    Effect.gen(function* () {
      yield* warm(2)
      const bob = yield* openManagerChat("Bob")
      yield* bob.say("/new research-assistant")
      yield* bob.say("/skip")
      const [, ready] = yield* bob.say("/skip", 2)
      assert.include(ready, "Research Assistant is ready")
      const [list] = yield* bob.say("my agents")
      assert.include(list, "Research Assistant")
      const shortId = /\[([0-9a-f]{8})\]/.exec(list)![1]!
      assert.include((yield* bob.say(`/name ${shortId} Scout`))[0], "now called Scout")
      assert.include((yield* bob.say("/instruct Scout Only cite primary sources."))[0], "new instructions")
      assert.include((yield* bob.say("/invite scout"))[0], "https://dev.convos.org/v2?i=")
      // Plain words work when what follows is one of the person's agents; otherwise a sentence is just a sentence.
      assert.include((yield* bob.say("invite Scout"))[0], "https://dev.convos.org/v2?i=")
      assert.include((yield* bob.say("invite everyone to the party"))[0], "I didn't understand that.")
      assert.include((yield* bob.say("rename Scout"))[0], "Usage: /name <agent> <new name>")
      assert.include((yield* bob.say("/join Scout not-a-link"))[0], "not a Convos invite link")
      assert.include((yield* bob.say("/name Nobody Else"))[0], 'no agent called "Nobody"')
      assert.include((yield* bob.say("/name"))[0], "Usage: /name <agent> <new name>")
      assert.include((yield* bob.say("/frobnicate"))[0], "I don't know /frobnicate")
      assert.include((yield* bob.say("/new no-such-template"))[0], "/templates")
      assert.include((yield* bob.say("/templates"))[0], "trip-planner")
      // Someone else cannot see or touch Bob's agent, even with its id.
      const eve = yield* openManagerChat("Eve")
      assert.include((yield* eve.say(`/release ${shortId}`))[0], "no agents yet")
      assert.include((yield* eve.say("/agents"))[0], "no agents yet")
      assert.include((yield* bob.say("/release Scout"))[0], "released")
      assert.include((yield* bob.say("/agents"))[0], "no agents yet")
    }),
  )

  it.effect("ops commands are refused outside the ops chat and for non-admins; admins use them in the ops chat", () =>
    Effect.gen(function* () {
      const bot = yield* ManagerBot
      const carol = yield* openManagerChat("Carol")
      assert.include((yield* carol.say("/replenish 2"))[0], "ops command")
      assert.include((yield* carol.say("/counts"))[0], "ops command")
      // A non-admin cannot get into the ops chat; an admin can, and the commands work there.
      const intruder = yield* openManagerChat("Intruder", bot.opsInviteUrl).pipe(Effect.flip)
      assert.include((intruder as { message: string }).message, "Only admins")
      const ops = yield* openManagerChat("Admin", bot.opsInviteUrl, admin)
      assert.strictEqual(ops.chatId, bot.opsConversationId)
      assert.include((yield* ops.say("/counts"))[0], "idle")
      assert.include((yield* ops.say("/replenish 1"))[0], "Starting 1 instance")
      assert.include((yield* ops.say("/replenish 500"))[0], "Usage: /replenish")
      assert.include((yield* ops.say("/kill zzzz"))[0], "No instance zzzz")
      assert.include((yield* ops.say("/new"))[0], "manager chat, not in the ops chat")
    }),
  )

  it.effect("a template invite from the web catalog starts /new with that template", () =>
    Effect.gen(function* () {
      const bot = yield* ManagerBot
      const dana = yield* openManagerChat("Dana", bot.inviteUrl("trip-planner"))
      let texts: string[] = []
      for (let i = 0; i < 100 && !texts.some((t) => t.includes("What should it be called?")); i++) {
        yield* Effect.sleep(50)
        texts = (yield* dana.client.messages(dana.chatId)).flatMap((m) => (m.text ? [m.text] : []))
      }
      assert.isTrue(texts.some((t) => t.includes("Trip Planner") && t.includes("What should it be called?")))
    }),
  )

  it.effect(
    "/help lists every command (/help, /skip, /cancel too); plain words are commands only when exact or about a known template/agent",
    () =>
      Effect.gen(function* () {
        const gil = yield* openManagerChat("Gil")
        const [help] = yield* gil.say("/help")
        for (const c of [
          "/help — this list",
          "/skip —",
          "/cancel —",
          "/new [template]",
          "/templates",
          "/agents",
          "/release <agent>",
        ])
          assert.include(help, c)
        assert.notInclude(help, "/kill", "ops commands are not listed in a manager chat")
        assert.strictEqual((yield* gil.say("help"))[0], help)
        assert.include((yield* gil.say("/skip"))[0], "nothing to skip")
        assert.include((yield* gil.say("/cancel"))[0], "nothing to cancel")
        // Ordinary sentences that start like a command are not commands.
        for (const sentence of [
          "new agent for trips",
          "new phone who dis",
          "release the kraken",
          "join us tonight at 8",
          "invite my friends",
          "my agents are great",
        ]) {
          assert.include((yield* gil.say(sentence))[0], "I didn't understand that.", sentence)
        }
        // Exact phrases, and a known template after the words, are.
        assert.include((yield* gil.say("new agent"))[0], "What should it be called?")
        assert.include((yield* gil.say("/cancel"))[0], "Cancelled")
        assert.include((yield* gil.say("new agent trip-planner"))[0], "Trip Planner")
        assert.include((yield* gil.say("/cancel"))[0], "Cancelled")
        assert.include((yield* gil.say("release"))[0], "Usage: /release <agent>")
      }),
  )

  it.effect("over-long messages count against the per-person rate limit too", () =>
    Effect.gen(function* () {
      const hal = yield* openManagerChat("Hal")
      const replies = yield* hal.sayAll(Array.from({ length: 31 }, () => "x".repeat(MAX_MESSAGE_CHARS + 1)))
      assert.strictEqual(replies.filter((r) => r.includes("too long for me")).length, 30)
      assert.include(replies[30], "faster than I can take them (at most 30 a minute)")
      assert.include(
        (yield* hal.say("/help"))[0],
        "faster than I can take them",
        "the limit holds for normal messages after the long ones",
      )
    }),
  )

  it.effect("garbage gets a reply every time and the bot stays up", () =>
    Effect.gen(function* () {
      const fuzz = yield* openManagerChat("Fuzz")
      const samples = [
        "",
        " ",
        "\u0000\u0001\u0002",
        "🤖".repeat(500),
        "/",
        "//",
        "/new\u0000",
        "x".repeat(100_000),
        "/name \u202e evil",
        "/join a b c d",
        "ＮＥＷ",
      ]
      for (const s of samples) {
        const text = s === "" ? "\u200b" : s
        const [reply] = yield* fuzz.say(text)
        assert.isString(reply)
        assert.isAbove(reply!.length, 0)
      }
      assert.include((yield* fuzz.say("/help"))[0], "Here is what I can do")
    }),
  )
})
