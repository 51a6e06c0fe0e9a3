import { randomUUID } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, type Duration, Effect, Layer, Redacted } from "effect"
import { fakeApi } from "../http/testing.ts"
import { managementKey, openRouterApi } from "./fake.ts"
import { OpenRouter, openRouterLayerFromEnv, openRouterLive } from "./OpenRouter.ts"

// Tests of a lost answer pass SLOW_ANSWER_TIMEOUT (their fake answers after 1.5 s); the others leave room for a loaded machine.
const SLOW_ANSWER_TIMEOUT = "500 millis"
const live = (url: string, environment = "staging", timeout: Duration.Input = "10 seconds") =>
  openRouterLive({
    managementKey: Redacted.make(managementKey),
    environment,
    baseUrl: url,
    keyLimit: 20,
    limitReset: "monthly",
    http: { baseDelay: "5 millis", timeout },
  })

describe("OpenRouter", () => {
  it.live("creates a capped monthly key per instance, tops it up, reads usage and deletes it", () =>
    Effect.gen(function* () {
      const fake = openRouterApi()
      const api = yield* fakeApi(fake.handle)
      const or = yield* Effect.provide(Effect.service(OpenRouter), live(api.url))
      const created = yield* or.createKey("inst1")
      expect(created.hash).toBe("hash-1")
      expect(Redacted.value(created.key)).toBe("sk-or-v1-secret-1")
      expect(String(created.key)).not.toContain("secret") // Redacted never prints the key
      expect(api.requests[0]).toMatchObject({
        method: "POST",
        path: "/api/v1/keys",
        body: { name: "convos-staging-agent-inst1", limit: 20, limit_reset: "monthly" },
      })

      expect(yield* or.topUp(created.hash, 20)).toBe(40)
      expect(api.requests.slice(1).map((r) => [r.method, r.path, r.body])).toEqual([
        ["GET", "/api/v1/keys/hash-1", undefined],
        ["PATCH", "/api/v1/keys/hash-1", { limit: 40 }],
      ])
      expect(yield* or.usage(created.hash)).toEqual({
        hash: "hash-1",
        name: "convos-staging-agent-inst1",
        limit: 40,
        usage: 0,
        limitReset: "monthly",
        periodUsage: 0,
      })
      // a monthly limit counts this month's spend, not the all-time total
      fake.setUsage(created.hash, { total: 7.5, thisPeriod: 1.25 })
      expect(yield* or.usage(created.hash)).toMatchObject({ usage: 7.5, periodUsage: 1.25, limitReset: "monthly" })
      fake.keys.set("never", {
        hash: "never",
        name: "convos-agent-never",
        limit: 5,
        usage: 3,
        limit_reset: "",
        periodUsage: 1,
      })
      expect(yield* or.usage("never")).toMatchObject({ usage: 3, periodUsage: 3, limitReset: null })
      fake.keys.delete("never")

      yield* or.deleteKey(created.hash)
      expect(fake.keys.size).toBe(0)
      yield* or.deleteKey(created.hash) // already gone: 404 counts as deleted
      expect(api.requests.every((r) => r.headers.authorization === `Bearer ${managementKey}`)).toBe(true)
    }).pipe(Effect.scoped),
  )

  it.live(
    "sweep deletes only this environment's orphan keys, disabled ones too, created inside the window (all pages)",
    () =>
      Effect.gen(function* () {
        const fake = openRouterApi()
        const api = yield* fakeApi(fake.handle)
        const or = yield* Effect.provide(Effect.service(OpenRouter), live(api.url))
        const hour = 3_600_000
        const now = Date.now()
        const ids = [0, 1, 2, 3, 4, 5].map(() => randomUUID())
        const made = new Map<string, string>()
        for (const id of ids) made.set(id, (yield* or.createKey(id)).hash)
        const createdAt = (id: string, msAgo: number) =>
          void (fake.keys.get(made.get(id)!)!.created_at = new Date(now - msAgo).toISOString())
        for (const id of ids) createdAt(id, 2 * hour)
        fake.keys.get(made.get(ids[2]!)!)!.disabled = true // disabled by hand: still an orphan
        createdAt(ids[3]!, 10_000) // younger than the grace period
        createdAt(ids[4]!, 30 * hour) // older than the database
        fake.keys.set("other", {
          hash: "other",
          name: "someone-elses-key",
          limit: null,
          usage: 3,
          limit_reset: null,
          created_at: new Date(now - 2 * hour).toISOString(),
        })
        fake.keys.set("prod", {
          hash: "prod",
          name: `convos-production-agent-${randomUUID()}`,
          limit: 20,
          usage: 0,
          limit_reset: "monthly",
          created_at: new Date(now - 2 * hour).toISOString(),
        })
        fake.keys.set("near", {
          hash: "near",
          name: `convos-staging-agent-agent-${randomUUID()}`,
          limit: 20,
          usage: 0,
          limit_reset: "monthly",
          created_at: new Date(now - 2 * hour).toISOString(),
        })
        const swept = yield* or.sweep(new Set([ids[1]!]), { createdAfter: now - 24 * hour, createdBefore: now - hour })
        expect([...swept].sort()).toEqual([ids[0]!, ids[2]!, ids[5]!].map((id) => `convos-staging-agent-${id}`).sort())
        expect([...fake.keys.keys()].sort()).toEqual(
          [made.get(ids[1]!)!, made.get(ids[3]!)!, made.get(ids[4]!)!, "near", "other", "prod"].sort(),
        )
        expect(
          api.requests.filter((r) => r.method === "GET").every((r) => r.path.includes("include_disabled=true")),
        ).toBe(true)
      }).pipe(Effect.scoped),
  )

  it.live("a 429 on create is retried and yields exactly one key; a 400 is not retried", () =>
    Effect.gen(function* () {
      const fake = openRouterApi()
      let throttle = 2
      const api = yield* fakeApi((r) =>
        r.method === "POST" && throttle-- > 0
          ? { status: 429, json: { error: { message: "rate limited" } } }
          : fake.handle(r),
      )
      const or = yield* Effect.provide(Effect.service(OpenRouter), live(api.url))
      yield* or.createKey("x")
      expect(api.requests.filter((r) => r.method === "POST")).toHaveLength(3)
      expect(fake.keys.size).toBe(1)

      api.setHandler(() => ({ status: 400, json: { error: { message: "limit must be positive" } } }))
      const error = yield* Effect.flip(or.createKey("y"))
      expect(error).toMatchObject({ _tag: "ProviderError", status: 400, retryable: false })
      expect(api.requests).toHaveLength(4)
    }).pipe(Effect.scoped),
  )

  it.live(
    "a 500 after OpenRouter made the key: that key (its secret lost) is deleted by name, then one key is created",
    () =>
      Effect.gen(function* () {
        const fake = openRouterApi()
        let lost = 1
        const api = yield* fakeApi((r) => {
          const reply = fake.handle(r)
          return r.method === "POST" && lost-- > 0 ? { status: 500, json: { error: { message: "upstream" } } } : reply
        })
        const or = yield* Effect.provide(Effect.service(OpenRouter), live(api.url))
        const made = yield* or.createKey("k5")
        expect([...new Set(api.requests.map((r) => `${r.method} ${r.path.split("?")[0]}`))]).toEqual([
          "POST /api/v1/keys",
          "GET /api/v1/keys", // list by name (all pages)
          "DELETE /api/v1/keys/hash-1",
        ])
        expect(api.requests.filter((r) => r.method === "POST")).toHaveLength(2)
        expect([...fake.keys.keys()]).toEqual([made.hash])
        expect(Redacted.value(made.key)).toBe("sk-or-v1-secret-2")
      }).pipe(Effect.scoped),
  )

  it.live("a create timing out: the orphan is removed and exactly one usable key remains", () =>
    Effect.gen(function* () {
      const fake = openRouterApi()
      let slow = 1
      const api = yield* fakeApi((r) => {
        const reply = fake.handle(r)
        return r.method === "POST" && slow-- > 0 ? { ...reply, delayMs: 1_500 } : reply
      })
      const or = yield* Effect.provide(Effect.service(OpenRouter), live(api.url, "staging", SLOW_ANSWER_TIMEOUT))
      const made = yield* or.createKey("k6")
      expect(api.requests.filter((r) => r.method === "POST")).toHaveLength(2)
      expect([...fake.keys.values()].map((k) => k.name)).toEqual(["convos-staging-agent-k6"])
      expect(fake.keys.has(made.hash)).toBe(true)
    }).pipe(Effect.scoped),
  )

  it.live("a malformed create answer is not retried, and the key it made is deleted", () =>
    Effect.gen(function* () {
      const fake = openRouterApi()
      const api = yield* fakeApi((r) => {
        const reply = fake.handle(r)
        return r.method === "POST" ? { status: 201, json: { data: { hash: "h" } } } : reply
      })
      const or = yield* Effect.provide(Effect.service(OpenRouter), live(api.url))
      const error = yield* Effect.flip(or.createKey("k7"))
      expect(error).toMatchObject({ _tag: "ProviderError", provider: "openrouter", retryable: false })
      expect(api.requests.filter((r) => r.method === "POST")).toHaveLength(1)
      expect(fake.keys.size).toBe(0)
    }).pipe(Effect.scoped),
  )

  it.live("layerFromEnv reads the key, the limit, the environment and a base URL given with or without /api/v1", () =>
    Effect.gen(function* () {
      const fake = openRouterApi()
      const api = yield* fakeApi(fake.handle)
      const env = ConfigProvider.layer(
        ConfigProvider.fromUnknown({
          OPENROUTER_MANAGEMENT_KEY: managementKey,
          OPENROUTER_BASE_URL: `${api.url}/api/v1`,
          OPENROUTER_KEY_LIMIT: "5",
        }),
      )
      const or = yield* Effect.provide(Effect.service(OpenRouter), openRouterLayerFromEnv.pipe(Layer.provide(env)))
      expect(or.configured).toBe(true)
      yield* or.createKey("e1")
      expect(api.requests[0]).toMatchObject({
        method: "POST",
        path: "/api/v1/keys",
        body: { name: "convos-local-agent-e1", limit: 5, limit_reset: "monthly" },
      })
      // the key name carries POOL_ENVIRONMENT, else the Railway environment the pool runs in, else "local"
      for (const [vars, name] of [
        [{ POOL_ENVIRONMENT: "staging" }, "convos-staging-agent-e2"],
        // with Railway compute, like the Railway layer: the Railway environment the pool runs in, else "railway"
        [{ RAILWAY_API_TOKEN: "rw", RAILWAY_ENVIRONMENT_NAME: "production" }, "convos-production-agent-e2"],
        [{ RAILWAY_TOKEN: "rw-project" }, "convos-railway-agent-e2"],
        [{ RAILWAY_ENVIRONMENT_NAME: "production" }, "convos-local-agent-e2"],
        [
          { POOL_ENVIRONMENT: "pr-7", RAILWAY_API_TOKEN: "rw", RAILWAY_ENVIRONMENT_NAME: "production" },
          "convos-pr-7-agent-e2",
        ],
      ] as const) {
        const envLayer = ConfigProvider.layer(
          ConfigProvider.fromUnknown({
            OPENROUTER_MANAGEMENT_KEY: managementKey,
            OPENROUTER_BASE_URL: api.url,
            ...vars,
          }),
        )
        const named = yield* Effect.provide(
          Effect.service(OpenRouter),
          openRouterLayerFromEnv.pipe(Layer.provide(envLayer)),
        )
        yield* named.createKey("e2")
        expect(api.requests.at(-1)?.body, JSON.stringify(vars)).toMatchObject({ name })
      }
    }).pipe(Effect.scoped),
  )

  it.live("top-ups are bounded: over OPENROUTER_TOPUP_MAX, not above 0, or on an uncapped key nothing is changed", () =>
    Effect.gen(function* () {
      const fake = openRouterApi()
      const api = yield* fakeApi(fake.handle)
      const env = ConfigProvider.layer(
        ConfigProvider.fromUnknown({
          OPENROUTER_MANAGEMENT_KEY: managementKey,
          OPENROUTER_BASE_URL: api.url,
          OPENROUTER_TOPUP_MAX: "7.5",
        }),
      )
      const or = yield* Effect.provide(Effect.service(OpenRouter), openRouterLayerFromEnv.pipe(Layer.provide(env)))
      expect(or.topUpMax).toBe(7.5)
      const { hash } = yield* or.createKey("t1")
      const sent = api.requests.length
      for (const amount of [7.51, 0, -1, Number.NaN, 0.001]) {
        const e = yield* Effect.flip(or.topUp(hash, amount))
        expect(e, String(amount)).toMatchObject({ _tag: "InvalidRequest", field: "amountUsd" })
      }
      expect(api.requests.length).toBe(sent) // refused before any call
      expect(yield* or.topUp(hash, 7.5)).toBe(27.5)
      expect(yield* or.topUp(hash, 0.1)).toBe(27.6) // no float drift (27.5 + 0.1 = 27.6)
      fake.keys.get(hash)!.limit = null
      const uncapped = yield* Effect.flip(or.topUp(hash, 1))
      expect(uncapped).toMatchObject({ _tag: "ResourceConflict", instanceId: "t1" })
      expect(fake.keys.get(hash)!.limit).toBeNull()
      expect(api.requests.filter((r) => r.method === "PATCH").map((r) => r.body)).toEqual([
        { limit: 27.5 },
        { limit: 27.6 },
      ])
    }).pipe(Effect.scoped),
  )

  it.effect(
    "OPENROUTER_TOPUP_MAX that is not a positive number stops the start, naming it (with or without a management key)",
    () =>
      Effect.gen(function* () {
        for (const [value, extra] of [
          ["0", {}],
          ["-5", {}],
          ["lots", { OPENROUTER_MANAGEMENT_KEY: managementKey }],
          [" ", {}],
        ] as const) {
          const env = ConfigProvider.layer(ConfigProvider.fromUnknown({ OPENROUTER_TOPUP_MAX: value, ...extra }))
          const exit = yield* Effect.exit(
            Effect.provide(Effect.service(OpenRouter), openRouterLayerFromEnv.pipe(Layer.provide(env))),
          )
          expect(exit._tag, value).toBe("Failure")
          // A typed failure (not a defect): `npm start` prints it as one line and exits with EX_CONFIG.
          const failure =
            exit._tag === "Failure"
              ? (
                  exit.cause.reasons.find((r) => r._tag === "Fail") as
                    | { error?: { _tag?: string; variable?: string; message?: string } }
                    | undefined
                )?.error
              : undefined
          expect(failure, value).toMatchObject({ _tag: "InvalidConfig", variable: "OPENROUTER_TOPUP_MAX" })
          expect(failure?.message, value).toContain(
            "OPENROUTER_TOPUP_MAX must be a positive number of USD (default 100)",
          )
        }
        const unset = yield* Effect.provide(
          Effect.service(OpenRouter),
          openRouterLayerFromEnv.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({})))),
        )
        expect(unset.topUpMax).toBe(100)
      }),
  )

  it.effect("without OPENROUTER_MANAGEMENT_KEY every operation says what to set", () =>
    Effect.gen(function* () {
      const or = yield* OpenRouter
      expect(or.configured).toBe(false)
      const error = yield* Effect.flip(or.createKey("x"))
      expect(error).toMatchObject({ _tag: "NotConfigured", variable: "OPENROUTER_MANAGEMENT_KEY" })
      expect(error.message).toBe("OpenRouter is not configured: set OPENROUTER_MANAGEMENT_KEY to use it.")
    }).pipe(
      Effect.provide(openRouterLayerFromEnv.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({}))))),
    ),
  )
})
