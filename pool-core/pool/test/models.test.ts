import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { SqlClient } from "effect/sql"
import { Pool } from "../Pool.ts"
import { modelSettings } from "../models.ts"
import { MemoryCloud, PoolTest } from "../testing.ts"

// Per-agent model (issue 24) on real SQL: a template's model reaches the claimed agent (row and provision body), an
// owner's switch is recorded and sent to the running agent (PATCH /pool/agent), only within MODELS_ALLOWED, and only
// by the owner.

const models = { configured: "llama3.2", allowed: ["llama3.2", "qwen2.5:7b"] }

layer(PoolTest({ settings: { models } }), { timeout: "120 seconds", excludeTestServices: true })(
  "Pool: per-agent model",
  (it) => {
    it.effect("a template's model is the agent's; setModel switches within MODELS_ALLOWED, for the owner only", () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const cloud = yield* MemoryCloud
        const sql = yield* SqlClient.SqlClient
        yield* pool.replenish(2)
        yield* pool.tick
        yield* sql`UPDATE templates SET model = 'qwen2.5:7b' WHERE slug = 'trip-planner'`
        const templated = yield* pool.claim({ key: "m-1", claimedBy: "ada", templateSlug: "trip-planner" })
        assert.strictEqual(templated.instance.model, "qwen2.5:7b")
        assert.strictEqual(cloud.instances.get(templated.instance.providerRef!)?.provisioned?.model, "qwen2.5:7b")

        const plain = yield* pool.claim({ key: "m-2", claimedBy: "ada" })
        assert.strictEqual(plain.instance.model ?? null, null, "no template model: the configured one")
        assert.strictEqual(cloud.instances.get(plain.instance.providerRef!)?.provisioned?.model, null)

        const switched = yield* pool.setModel(plain.instance.id, "ada", " qwen2.5:7b ")
        assert.strictEqual(switched.model, "qwen2.5:7b")
        const runtime = cloud.instances.get(plain.instance.providerRef!)!
        assert.deepStrictEqual(runtime.updates, [{ model: "qwen2.5:7b" }])

        const refused = yield* Effect.exit(pool.setModel(plain.instance.id, "ada", "gpt-4o"))
        assert.isTrue(Exit.isFailure(refused))
        assert.match(
          JSON.stringify(refused),
          /"gpt-4o\\" is not a model allowed here\. Allowed: llama3\.2, qwen2\.5:7b/,
        )
        const stranger = yield* Effect.exit(pool.setModel(plain.instance.id, "eve", "llama3.2"))
        assert.match(JSON.stringify(stranger), /InstanceNotFound/)
        assert.strictEqual(runtime.updates!.length, 1, "refused switches never reach the agent")
        assert.strictEqual((yield* pool.get(plain.instance.id)).model, "qwen2.5:7b")

        const back = yield* pool.setModel(plain.instance.id, "ada", "llama3.2")
        assert.strictEqual(back.model ?? null, null, "the configured model is recorded as the default")
        assert.deepStrictEqual(runtime.updates!.at(-1), { model: null })
      }),
    )
  },
)

describe("model settings (MODELS_ALLOWED, the configured model)", () => {
  it("default: only the configured model; OpenRouter keeps priority over a model server", () => {
    const local = { endpointUrl: "http://127.0.0.1:11434/v1", endpointModel: "llama3.2", primaryModel: null }
    assert.deepStrictEqual(modelSettings({ ...local, openRouter: false, allowed: null }), {
      configured: "llama3.2",
      allowed: ["llama3.2"],
    })
    assert.deepStrictEqual(modelSettings({ ...local, openRouter: false, allowed: " qwen2.5:7b, llama3.2 ," }), {
      configured: "llama3.2",
      allowed: ["llama3.2", "qwen2.5:7b"],
    })
    assert.deepStrictEqual(
      modelSettings({ ...local, openRouter: true, primaryModel: "openrouter/openai/gpt-5", allowed: null }),
      { configured: "openai/gpt-5", allowed: ["openai/gpt-5"] },
    )
    assert.deepStrictEqual(
      modelSettings({ openRouter: false, endpointUrl: null, endpointModel: null, primaryModel: null, allowed: "x" }),
      { configured: null, allowed: ["x"] },
    )
    assert.throws(() => modelSettings({ ...local, openRouter: false, allowed: "good,bad id" }), /MODELS_ALLOWED/)
  })
})
