import { assert, expect, it, layer } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer } from "effect"
import { TestDatabase } from "../../db/testing.ts"
import { AgentResources } from "../AgentResources.ts"
import { managementKey } from "../openrouter/fake.ts"
import { agentResourcesLayerFromEnv } from "./AgentResourcesLive.ts"
import { spendOf, spendText } from "./spend.ts"
import { agentResourcesOverFakes, ProviderFakes, providerFakesLayer } from "./testing.ts"

// Spend lookups over the live AgentResources and a loopback OpenRouter: real keys created by acquire, usage set on
// the fake's side, and the failure modes a listing must survive (one key failing, OpenRouter hanging).

const env = agentResourcesOverFakes.pipe(Layer.provideMerge(providerFakesLayer), Layer.provideMerge(TestDatabase))

/** Acquires resources for `id` and returns its OpenRouter key hash. */
const keyOf = (id: string) =>
  Effect.gen(function* () {
    const got = yield* (yield* AgentResources).acquire(id)
    return got.resources.find((r) => r.provider === "openrouter")!.externalId
  })

layer(env, { timeout: "120 seconds", excludeTestServices: true })("spendOf", (it) => {
  it.effect("this period's usage against the limit; null for an instance without a key", () =>
    Effect.gen(function* () {
      const fakes = yield* ProviderFakes
      const hash = yield* keyOf("s1")
      fakes.openrouter.state.setUsage(hash, { total: 9.5, thisPeriod: 1.23 })
      const spend = yield* spendOf(["s1", "no-such-instance"])
      assert.deepStrictEqual(spend.get("s1"), { usedUsd: 1.23, limitUsd: 20, limitReset: "monthly" })
      assert.isNull(spend.get("no-such-instance"))
      assert.strictEqual(spendText(spend.get("s1")!), "$1.23 / $20.00")
    }),
  )

  it.effect("one key failing (500) is unavailable for that agent only", () =>
    Effect.gen(function* () {
      const fakes = yield* ProviderFakes
      const bad = yield* keyOf("f1")
      const good = yield* keyOf("f2")
      fakes.openrouter.state.setUsage(good, { total: 0.42 })
      fakes.openrouter.fail((r) =>
        r.method === "GET" && r.path.endsWith(`/${bad}`)
          ? { status: 500, json: { error: { message: "upstream down" } } }
          : fakes.openrouter.state.handle(r),
      )
      const spend = yield* spendOf(["f1", "f2"]).pipe(Effect.ensuring(Effect.sync(() => fakes.openrouter.restore())))
      assert.strictEqual(spend.get("f1"), "unavailable")
      assert.deepStrictEqual(spend.get("f2"), { usedUsd: 0.42, limitUsd: 20, limitReset: "monthly" })
      assert.strictEqual(spendText(spend.get("f1")!), "unavailable")
    }),
  )

  it.effect("at most 8 lookups in flight at once", () =>
    Effect.gen(function* () {
      const fakes = yield* ProviderFakes
      const ids = Array.from({ length: 12 }, (_, n) => `c${n}`)
      for (const id of ids) yield* keyOf(id)
      let inFlight = 0
      let most = 0
      fakes.openrouter.fail(async (r) => {
        if (r.method !== "GET") return fakes.openrouter.state.handle(r)
        most = Math.max(most, ++inFlight)
        await new Promise((done) => setTimeout(done, 150))
        inFlight--
        return fakes.openrouter.state.handle(r)
      })
      const spend = yield* spendOf(ids).pipe(Effect.ensuring(Effect.sync(() => fakes.openrouter.restore())))
      assert.strictEqual(most, 8)
      for (const id of ids) expect(spend.get(id)).toMatchObject({ usedUsd: 0, limitUsd: 20 })
    }),
  )

  it.effect("OpenRouter hanging: the listing answers at the deadline with every agent unavailable", () =>
    Effect.gen(function* () {
      const fakes = yield* ProviderFakes
      yield* keyOf("h1")
      // Bounds relative to the configured deadline and a measured baseline, not fixed ms: the same hanging listing with
      // a deadline too long to matter ends when the client gives up on its own (its request timeout and retries);
      // with the 200 ms deadline it must end after the deadline and well before that.
      const DEADLINE_MS = 200
      fakes.openrouter.fail((r) =>
        r.method === "GET" ? { delayMs: 30_000, json: {} } : fakes.openrouter.state.handle(r),
      )
      const timedSpend = (deadline: Duration.Duration) =>
        Effect.gen(function* () {
          const started = Date.now()
          const spend = yield* spendOf(["h1"], { deadline })
          return { spend, ms: Date.now() - started }
        })
      const { spend, ms, alone } = yield* Effect.gen(function* () {
        const alone = yield* timedSpend(Duration.minutes(5))
        const cut = yield* timedSpend(Duration.millis(DEADLINE_MS))
        return { ...cut, alone: alone.ms }
      }).pipe(Effect.ensuring(Effect.sync(() => fakes.openrouter.restore())))
      assert.strictEqual(spend.get("h1"), "unavailable")
      expect(ms).toBeGreaterThanOrEqual(DEADLINE_MS)
      expect(ms, `answered at the deadline, not when the client gave up alone (${alone} ms)`).toBeLessThan(
        DEADLINE_MS + (alone - DEADLINE_MS) / 2,
      )
    }),
  )
})

it.effect("without OpenRouter or AgentResources in the runtime every agent has spend null", () =>
  Effect.gen(function* () {
    const spend = yield* spendOf(["x", "y"])
    assert.deepStrictEqual(
      [...spend],
      [
        ["x", null],
        ["y", null],
      ],
    )
  }),
)

it.effect(
  "layerFromEnv provides the OpenRouter service it built, so spend works in the app's composition",
  () =>
    Effect.gen(function* () {
      const fakes = yield* ProviderFakes
      const fromEnv = agentResourcesLayerFromEnv.pipe(
        Layer.provide(TestDatabase),
        Layer.provide(
          ConfigProvider.layer(
            ConfigProvider.fromUnknown({
              OPENROUTER_MANAGEMENT_KEY: managementKey,
              OPENROUTER_BASE_URL: `${fakes.openrouter.api.url}/api/v1`,
            }),
          ),
        ),
      )
      const spend = yield* Effect.gen(function* () {
        const hash = yield* keyOf("e1")
        fakes.openrouter.state.setUsage(hash, { total: 3.5 })
        return yield* spendOf(["e1"])
      }).pipe(Effect.provide(fromEnv))
      assert.deepStrictEqual(spend.get("e1"), { usedUsd: 3.5, limitUsd: 20, limitReset: "monthly" })
    }).pipe(Effect.provide(providerFakesLayer)),
  60_000,
)
