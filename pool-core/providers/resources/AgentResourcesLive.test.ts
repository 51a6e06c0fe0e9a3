import { assert, expect, it, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Ref } from "effect"
import { SqlClient } from "effect/sql"
import { TestDatabase } from "../../db/testing.ts"
import type { Progress } from "../../pool/Pool.ts"
import { AgentResources } from "../AgentResources.ts"
import { agentResourcesLayerFromEnv, makeAgentResources } from "./AgentResourcesLive.ts"
import type { ResourceProvider } from "./ResourceProvider.ts"
import { agentResourcesOverFakes, ProviderFakes, providerFakesLayer } from "./testing.ts"

const env = Layer.mergeAll(agentResourcesOverFakes).pipe(
  Layer.provideMerge(providerFakesLayer),
  Layer.provideMerge(TestDatabase),
)

const deletes = (fake: { api: { requests: Array<{ method: string; path: string }> } }) =>
  fake.api.requests.filter((r) => r.method === "DELETE").map((r) => r.path)

layer(env, { timeout: "120 seconds", excludeTestServices: true })("AgentResourcesLive", (it) => {
  it.effect("acquires from every provider in order, records it, and releases each exactly once", () =>
    Effect.gen(function* () {
      const resources = yield* AgentResources
      const fakes = yield* ProviderFakes
      const sql = yield* SqlClient.SqlClient
      const steps = yield* Ref.make<Array<string>>([])
      const onProgress = (p: Progress) => Ref.update(steps, (s) => [...s, `${p.step}:${p.status}`])

      const got = yield* resources.acquire("a1", onProgress)
      assert.deepStrictEqual(yield* Ref.get(steps), [
        "telnyx:active",
        "telnyx:ok",
        "openrouter:active",
        "openrouter:ok",
        "agentmail:active",
        "agentmail:ok",
        "wallet:active",
        "wallet:ok",
      ])
      assert.deepStrictEqual(
        got.resources.map((r) => r.provider),
        ["telnyx", "openrouter", "agentmail", "wallet"],
      )
      const phone = got.resources.find((r) => r.provider === "telnyx")!.externalId
      expect(phone).toMatch(/^\+1555/)
      assert.strictEqual(
        got.resources.find((r) => r.provider === "agentmail")!.externalId,
        "convos-test-a1@agentmail.to",
      )
      expect(got.resources.find((r) => r.provider === "wallet")!.externalId).toMatch(/^0x[0-9a-f]{40}$/)
      // the agent gets its own OpenRouter key and nothing else: inbox, number and wallet stay with the pool
      assert.deepStrictEqual(Object.keys(got.env), ["OPENROUTER_API_KEY"])
      expect(got.env.OPENROUTER_API_KEY).toMatch(/^sk-or-v1-secret-/)
      // progress messages and the held list never carry secrets
      assert.deepStrictEqual(yield* resources.held("a1"), got.resources)
      for (const r of got.resources) expect(r.externalId).not.toContain("secret")

      // three concurrent releases (kill racing dismiss racing a restart): each provider is called exactly once
      yield* Effect.all([resources.release("a1"), resources.release("a1"), resources.release("a1")], {
        concurrency: "unbounded",
      })
      assert.deepStrictEqual(deletes(fakes.openrouter), ["/api/v1/keys/hash-1"])
      assert.deepStrictEqual(deletes(fakes.agentmail), ["/v0/inboxes/convos-test-a1%40agentmail.to"])
      assert.strictEqual(fakes.openrouter.state.keys.size, 0)
      assert.strictEqual(fakes.agentmail.state.inboxes.size, 0)
      const phones = yield* sql<{ status: string }>`SELECT status FROM phone_numbers WHERE phone_number = ${phone}`
      assert.deepStrictEqual(phones, [{ status: "available" }])
      assert.lengthOf(yield* sql`SELECT 1 FROM agent_wallets WHERE instance_id = 'a1'`, 0)
      assert.lengthOf(
        yield* sql`SELECT 1 FROM events WHERE instance_id = 'a1' AND kind = 'wallet-deleted'`,
        1,
        "deleted once, with its event",
      )
      assert.lengthOf(yield* resources.held("a1"), 0)
    }),
  )

  it.effect("a provider failing halfway: what was taken is released and the error recorded", () =>
    Effect.gen(function* () {
      const resources = yield* AgentResources
      const fakes = yield* ProviderFakes
      const sql = yield* SqlClient.SqlClient
      const before = fakes.agentmail.api.requests.length
      const orDeletesBefore = deletes(fakes.openrouter).length
      fakes.agentmail.fail(() => ({ status: 500, json: { name: "InternalServerError" } }))
      const error = yield* Effect.flip(resources.acquire("h1"))
      fakes.agentmail.restore()
      expect(error).toMatchObject({ _tag: "ProviderError", provider: "agentmail", status: 500, retryable: true })
      assert.strictEqual(
        fakes.agentmail.api.requests.slice(before).filter((r) => r.method === "POST").length,
        3,
        "1 try + 2 retries",
      )
      assert.strictEqual(deletes(fakes.openrouter).length - orDeletesBefore, 1, "the key taken before is deleted")
      assert.strictEqual(fakes.openrouter.state.keys.size, 0)
      assert.lengthOf(yield* resources.held("h1"), 0)
      assert.lengthOf(yield* sql`SELECT 1 FROM phone_numbers WHERE instance_id = 'h1'`, 0)
      const errors = yield* sql<{
        provider: string
        operation: string
        message: string
      }>`SELECT provider, operation, message FROM resource_errors WHERE instance_id = 'h1'`
      assert.deepStrictEqual(
        errors.map((e) => [e.provider, e.operation]),
        [["agentmail", "acquire"]],
      )
      expect(errors[0].message).toContain("failed with 500")
    }),
  )

  it.effect("a failed release keeps the record, reports it, and the next release finishes the job once", () =>
    Effect.gen(function* () {
      const resources = yield* AgentResources
      const fakes = yield* ProviderFakes
      const sql = yield* SqlClient.SqlClient
      const got = yield* resources.acquire("r1")
      const hash = got.resources.find((r) => r.provider === "openrouter")!.externalId
      fakes.openrouter.fail((r) =>
        r.method === "DELETE"
          ? { status: 401, json: { error: { message: "bad key" } } }
          : fakes.openrouter.state.handle(r),
      )
      const error = yield* Effect.flip(resources.release("r1"))
      expect(error.message).toContain("could not be released")
      assert.deepStrictEqual(
        (yield* resources.held("r1")).map((r) => r.provider),
        ["openrouter"],
        "only the failed one stays recorded",
      )
      assert.isTrue(fakes.openrouter.state.keys.has(hash))
      const errors = yield* sql<{ operation: string }>`SELECT operation FROM resource_errors WHERE instance_id = 'r1'`
      assert.deepStrictEqual(
        errors.map((e) => e.operation),
        ["release"],
      )
      fakes.openrouter.restore()
      yield* resources.release("r1")
      yield* resources.release("r1")
      assert.isFalse(fakes.openrouter.state.keys.has(hash))
      assert.strictEqual(
        deletes(fakes.openrouter).filter((p) => p.endsWith(hash)).length,
        2,
        "one refused, one done, none after",
      )
    }),
  )

  it.effect("a provider is one module in the list: taken, recorded, held and released once with no other code", () =>
    Effect.gen(function* () {
      const freed: Array<string> = []
      // Any ResourceProvider; the name is one the instance_resources table accepts (a new provider adds its own).
      const thing: ResourceProvider = {
        name: "bankr",
        configured: true,
        taking: "taking a test thing",
        take: (id) => Effect.succeed({ externalId: `thing-${id}`, env: { THING: "on" } }),
        record: "rows",
        free: (_id, externalId) => Effect.sync(() => void freed.push(externalId)),
      }
      const resources = yield* makeAgentResources([thing])
      const steps: Array<string> = []
      const got = yield* resources.acquire("p1", (p) => Effect.sync(() => void steps.push(`${p.status}:${p.message}`)))
      assert.deepStrictEqual(got, { resources: [{ provider: "bankr", externalId: "thing-p1" }], env: { THING: "on" } })
      assert.deepStrictEqual(steps, ["active:taking a test thing", "ok:bankr: thing-p1"])
      assert.deepStrictEqual(yield* resources.held("p1"), got.resources)
      yield* Effect.all([resources.release("p1"), resources.release("p1")], { concurrency: "unbounded" })
      assert.deepStrictEqual(freed, ["thing-p1"])
      assert.deepStrictEqual(yield* resources.held("p1"), [])
    }),
  )
})

it.effect("layerFromEnv: no provider configured gives the no-resources layer", () =>
  Effect.gen(function* () {
    const got = yield* (yield* AgentResources).acquire("x")
    assert.deepStrictEqual(got, { resources: [], env: {} })
  }).pipe(
    Effect.provide(
      agentResourcesLayerFromEnv.pipe(
        Layer.provide(TestDatabase),
        Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({}))),
      ),
    ),
  ),
)

it.effect(
  "layerFromEnv: one configured provider gives the live layer (local wallets only); an old BANKR_API_KEY enables nothing",
  () =>
    Effect.gen(function* () {
      const resources = yield* AgentResources
      const got = yield* resources.acquire("b1")
      assert.deepStrictEqual(
        got.resources.map((r) => r.provider),
        ["wallet"],
      )
      assert.deepStrictEqual(got.env, {})
      assert.deepStrictEqual(yield* resources.held("b1"), got.resources)
    }).pipe(
      Effect.provide(
        agentResourcesLayerFromEnv.pipe(
          Layer.provide(TestDatabase),
          Layer.provide(
            ConfigProvider.layer(
              ConfigProvider.fromUnknown({
                AGENT_WALLETS: "local",
                WALLET_ENCRYPTION_KEY: "cd".repeat(32),
                BANKR_API_KEY: "bk_env",
              }),
            ),
          ),
        ),
      ),
    ),
  60_000,
)
