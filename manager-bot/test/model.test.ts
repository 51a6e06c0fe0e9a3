import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { MemoryCloud } from "@convos-agents/pool-core/testing/pool"
import { botTestLayer, openManagerChat } from "./helpers.ts"

// /model <agent> <model> over devnet with the real bot on real SQL: the owner switches within MODELS_ALLOWED (the
// switch reaches the running agent as PATCH /pool/agent {model}); a model outside it is refused naming what is
// allowed; a stranger's /model finds no agent. /agent and /agents show the model.

const models = { configured: "llama3.2", allowed: ["llama3.2", "qwen2.5:7b"] }

layer(botTestLayer({ settings: { models } }), { timeout: "120 seconds", excludeTestServices: true })(
  "manager bot: /model",
  (it) => {
    it.effect("the owner switches within MODELS_ALLOWED; others and other models are refused; /agent(s) show it", () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const cloud = yield* MemoryCloud
        yield* pool.replenish(1)
        yield* pool.tick
        const ada = yield* openManagerChat("Ada")
        yield* ada.say("/new trip-planner")
        yield* ada.say("Voyager")
        const [, ready] = yield* ada.say("Plan a week in Lisbon.", 2)
        assert.include(ready, "Voyager is ready")
        const [agent] = yield* pool.list({ claimedBy: ada.id.inboxId })
        const runtime = cloud.instances.get(agent!.providerRef!)!

        assert.include((yield* ada.say("/agent Voyager"))[0], "model: llama3.2")
        assert.include((yield* ada.say("/agents"))[0], "· llama3.2")

        const [refused] = yield* ada.say("/model Voyager gpt-4o")
        assert.include(refused, '"gpt-4o" is not a model allowed here. Allowed: llama3.2, qwen2.5:7b.')
        const eve = yield* openManagerChat("Eve")
        assert.include((yield* eve.say("/model Voyager qwen2.5:7b"))[0], "You have no agents yet")
        assert.include((yield* eve.say(`/model ${agent!.id.slice(0, 8)} qwen2.5:7b`))[0], "You have no agents yet")
        assert.deepStrictEqual(runtime.updates ?? [], [], "nothing refused reached the agent")

        const [done] = yield* ada.say("/model Voyager qwen2.5:7b")
        assert.strictEqual(done, "Done: Voyager thinks with qwen2.5:7b from its next message.")
        assert.deepStrictEqual(runtime.updates, [{ model: "qwen2.5:7b" }])
        assert.strictEqual((yield* pool.get(agent!.id)).model, "qwen2.5:7b")
        assert.include((yield* ada.say("/agent Voyager"))[0], "model: qwen2.5:7b")
        assert.include((yield* ada.say("/agents"))[0], "· qwen2.5:7b")
        assert.strictEqual(
          (yield* ada.say("/model Voyager"))[0],
          "Voyager thinks with qwen2.5:7b. Allowed: llama3.2, qwen2.5:7b.",
        )
        assert.include((yield* ada.say("/help"))[0], "/model <agent> <model> — switch the model an agent thinks with")

        // The agent reports that its model server does not know its model: the owner is told in the manager chat,
        // once per kind in 10 minutes (the person in the agent's chat already got the one line).
        const line =
          "The model server at http://127.0.0.1:11434/v1 does not know the model qwen2.5:7b, so I cannot think right now."
        const before = (yield* ada.botTexts()).length
        const first = yield* pool.reportModelProblem(agent!.id, {
          kind: "unknown-model",
          model: "qwen2.5:7b",
          message: line,
        })
        assert.isTrue(first.notified)
        const notice = (yield* ada.waitForBotTexts(before + 1, 30_000))[before]!
        assert.strictEqual(
          notice,
          `⚠️ Voyager [${agent!.id.slice(0, 8)}] cannot think: it told its chat "${line}"\n/model Voyager lists the models allowed here; /model Voyager <model> switches to one.`,
        )
        const again = yield* pool.reportModelProblem(agent!.id, {
          kind: "unknown-model",
          model: "qwen2.5:7b",
          message: line,
        })
        assert.isFalse(again.notified, "the same problem again within 10 minutes is not news")
        const eveBefore = (yield* eve.botTexts()).length
        yield* Effect.sleep("1 second")
        assert.strictEqual((yield* eve.botTexts()).length, eveBefore, "nobody else is told")
      }),
    )
  },
)

layer(botTestLayer({ settings: { models: { configured: "llama3.2", allowed: ["llama3.2"] } } }), {
  timeout: "120 seconds",
  excludeTestServices: true,
})("manager bot: /model without MODELS_ALLOWED", (it) => {
  it.effect("only the configured model is allowed, and the refusal says how to allow more", () =>
    Effect.gen(function* () {
      const pool = yield* Pool
      yield* pool.replenish(1)
      yield* pool.tick
      const bob = yield* openManagerChat("Bob")
      yield* bob.say("/new trip-planner")
      yield* bob.say("Scout")
      yield* bob.say("Be brief.", 2)
      const [refused] = yield* bob.say("/model Scout qwen2.5:7b")
      assert.strictEqual(
        refused,
        '"qwen2.5:7b" is not a model allowed here. Allowed: llama3.2 (the operators can allow more with MODELS_ALLOWED).',
      )
    }),
  )
})
