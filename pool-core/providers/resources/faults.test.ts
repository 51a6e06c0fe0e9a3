import { assert, expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { TestDatabase } from "../../db/testing.ts"
import { AgentResources } from "../AgentResources.ts"
import type { RecordedRequest, Reply } from "../http/testing.ts"
import { agentResourcesOverFakes, ProviderFakes, providerFakesLayer, testKeyName } from "./testing.ts"

// Per-provider faults, asserted where the pool sees them: a claim's acquire over the live AgentResources and the
// loopback provider APIs (http timeout 500 ms, 2 retries). For each fault: was it retried, was what the claim had
// already taken given back, was the error recorded for the admin page. Order of acquire: Telnyx, OpenRouter,
// AgentMail, Bankr.

const env = agentResourcesOverFakes.pipe(Layer.provideMerge(providerFakesLayer), Layer.provideMerge(TestDatabase))

const count = (f: { api: { requests: Array<RecordedRequest> } }, method: string, path: string) =>
  f.api.requests.filter((r) => r.method === method && r.path.split("?")[0] === path).length

const errorsOf = (id: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql<{
        provider: string
        operation: string
        message: string
      }>`SELECT provider, operation, message FROM resource_errors WHERE instance_id = ${id} ORDER BY id`,
  )

const phonesOf = (id: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql<{ phoneNumber: string }>`SELECT phone_number FROM phone_numbers WHERE instance_id = ${id}`,
  )

/** Everything a failed claim may have taken is back: nothing held, no number assigned, no key or inbox left. */
const nothingLeft = (id: string) =>
  Effect.gen(function* () {
    const fakes = yield* ProviderFakes
    assert.lengthOf(yield* (yield* AgentResources).held(id), 0)
    assert.lengthOf(yield* phonesOf(id), 0)
    assert.isFalse(
      [...fakes.openrouter.state.keys.values()].some((k) => k.name === testKeyName(id)),
      "no OpenRouter key left",
    )
    assert.isFalse(
      [...fakes.agentmail.state.inboxes.keys()].some((i) => i.startsWith(`convos-test-${id}@`)),
      "no inbox left",
    )
  })

const slow = (reply: Reply): Reply => ({ ...reply, delayMs: 1_500 })

/** Runs `effect` while `fake` answers with `handler`; restores the normal answers whatever happens. */
const withFault = <A, E, R>(
  pick: (f: ProviderFakes["Service"]) => ProviderFakes["Service"]["telnyx" | "openrouter" | "agentmail"],
  handler: (r: RecordedRequest) => Reply,
  effect: Effect.Effect<A, E, R>,
) =>
  Effect.flatMap(ProviderFakes, (fakes) => {
    const fake = pick(fakes)
    return Effect.sync(() => fake.fail(handler)).pipe(
      Effect.andThen(effect),
      Effect.ensuring(Effect.sync(() => fake.restore())),
    )
  })

/** No pooled numbers: the claim must search and order at Telnyx. */
const emptyNumberPool = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => sql`DELETE FROM phone_numbers WHERE status = 'available'`,
)

layer(env, { timeout: "120 seconds", excludeTestServices: true })("provider faults during a claim", (it) => {
  const acquire = (id: string) => Effect.flatMap(AgentResources, (r) => r.acquire(id))
  const release = (id: string) => Effect.flatMap(AgentResources, (r) => r.release(id))

  // --- Telnyx -------------------------------------------------------------------------------------------------
  it.effect("Telnyx 429 on search: retried, the claim gets its number", () =>
    Effect.gen(function* () {
      const fakes = yield* ProviderFakes
      yield* emptyNumberPool
      let limited = 2
      const before = count(fakes.telnyx, "GET", "/available_phone_numbers")
      const got = yield* withFault(
        (f) => f.telnyx,
        (r) =>
          r.method === "GET" && limited-- > 0
            ? { status: 429, headers: { "retry-after": "0" }, json: { errors: [{ title: "Too many" }] } }
            : fakes.telnyx.state.handle(r),
        acquire("tx429"),
      )
      assert.strictEqual(count(fakes.telnyx, "GET", "/available_phone_numbers") - before, 3)
      expect(got.resources.find((r) => r.provider === "telnyx")?.externalId).toMatch(/^\+1555/)
      assert.lengthOf(yield* errorsOf("tx429"), 0)
      yield* release("tx429")
    }),
  )

  it.effect("Telnyx 500 on every search: retried to the limit, then the claim fails with the error recorded", () =>
    Effect.gen(function* () {
      const fakes = yield* ProviderFakes
      yield* emptyNumberPool
      const before = count(fakes.telnyx, "GET", "/available_phone_numbers")
      const error = yield* Effect.flip(
        withFault(
          (f) => f.telnyx,
          () => ({ status: 500, json: { errors: [{ title: "Internal" }] } }),
          acquire("tx500"),
        ),
      )
      expect(error).toMatchObject({ provider: "telnyx", status: 500, retryable: true })
      assert.strictEqual(count(fakes.telnyx, "GET", "/available_phone_numbers") - before, 3, "1 try + 2 retries")
      const errors = yield* errorsOf("tx500")
      assert.deepStrictEqual(
        errors.map((e) => [e.provider, e.operation]),
        [["telnyx", "acquire"]],
      )
      expect(errors[0].message).toContain("failed with 500")
      yield* nothingLeft("tx500")
    }),
  )

  it.effect(
    "Telnyx order timing out, and Telnyx unable to say whether it happened: the claim fails, never orders twice, error recorded",
    () =>
      Effect.gen(function* () {
        const fakes = yield* ProviderFakes
        yield* emptyNumberPool
        const posts = count(fakes.telnyx, "POST", "/number_orders")
        const error = yield* Effect.flip(
          withFault(
            (f) => f.telnyx,
            (r) =>
              r.method === "POST"
                ? slow({ status: 500, json: {} })
                : r.path.startsWith("/number_orders")
                  ? { status: 503, json: {} }
                  : fakes.telnyx.state.handle(r),
            acquire("txslow"),
          ),
        )
        expect(error).toMatchObject({ provider: "telnyx", status: null })
        expect(error.message).toContain("timed out")
        assert.strictEqual(
          count(fakes.telnyx, "POST", "/number_orders") - posts,
          1,
          "no second order while the first is unknown",
        )
        assert.deepStrictEqual(
          (yield* errorsOf("txslow")).map((e) => e.provider),
          ["telnyx"],
        )
        assert.lengthOf(yield* (yield* AgentResources).held("txslow"), 0)
      }),
  )

  it.effect("Telnyx malformed search answer: not retried, the claim fails with the error recorded", () =>
    Effect.gen(function* () {
      const fakes = yield* ProviderFakes
      yield* emptyNumberPool
      const before = fakes.telnyx.api.requests.length
      const error = yield* Effect.flip(
        withFault(
          (f) => f.telnyx,
          () => ({ json: { data: [{ number: "+1" }] } }),
          acquire("txbad"),
        ),
      )
      expect(error).toMatchObject({ provider: "telnyx", retryable: false })
      expect(error.message).toContain("unexpected shape")
      assert.strictEqual(fakes.telnyx.api.requests.length - before, 1)
      assert.lengthOf(yield* errorsOf("txbad"), 1)
      yield* nothingLeft("txbad")
    }),
  )

  // --- OpenRouter -------------------------------------------------------------------------------------------
  it.effect(
    "OpenRouter 500 on every create: created again only after a look-up, then the number is given back and the error recorded",
    () =>
      Effect.gen(function* () {
        const fakes = yield* ProviderFakes
        const before = count(fakes.openrouter, "POST", "/api/v1/keys")
        const lookups = count(fakes.openrouter, "GET", "/api/v1/keys")
        const error = yield* Effect.flip(
          withFault(
            (f) => f.openrouter,
            (r) =>
              r.method === "POST"
                ? { status: 500, json: { error: { message: "upstream" } } }
                : fakes.openrouter.state.handle(r),
            acquire("or500"),
          ),
        )
        expect(error).toMatchObject({ provider: "openrouter", status: 500 })
        assert.strictEqual(count(fakes.openrouter, "POST", "/api/v1/keys") - before, 3)
        assert.isAtLeast(count(fakes.openrouter, "GET", "/api/v1/keys") - lookups, 3, "a look-up by name after each")
        assert.deepStrictEqual(
          (yield* errorsOf("or500")).map((e) => [e.provider, e.operation]),
          [["openrouter", "acquire"]],
        )
        yield* nothingLeft("or500") // includes: the number it had taken is no longer assigned
      }),
  )

  it.effect(
    "OpenRouter create timing out after the key was made: the orphan is deleted, the claim gets one usable key",
    () =>
      Effect.gen(function* () {
        const fakes = yield* ProviderFakes
        let lost = 1
        const got = yield* withFault(
          (f) => f.openrouter,
          (r) => {
            const reply = fakes.openrouter.state.handle(r)
            return r.method === "POST" && lost-- > 0 ? slow(reply) : reply
          },
          acquire("orslow"),
        )
        const named = [...fakes.openrouter.state.keys.values()].filter((k) => k.name === testKeyName("orslow"))
        assert.lengthOf(named, 1)
        assert.strictEqual(
          (yield* (yield* AgentResources).held("orslow")).find((r) => r.provider === "openrouter")?.externalId,
          named[0].hash,
        )
        expect(got.env.OPENROUTER_API_KEY).toMatch(/^sk-or-v1-secret-/)
        yield* release("orslow")
      }),
  )

  it.effect(
    "OpenRouter malformed create answer: not retried, its key deleted, the number given back, error recorded",
    () =>
      Effect.gen(function* () {
        const fakes = yield* ProviderFakes
        const before = count(fakes.openrouter, "POST", "/api/v1/keys")
        const error = yield* Effect.flip(
          withFault(
            (f) => f.openrouter,
            (r) => {
              const reply = fakes.openrouter.state.handle(r)
              return r.method === "POST" ? { raw: "{not json" } : reply
            },
            acquire("orbad"),
          ),
        )
        expect(error).toMatchObject({ provider: "openrouter", retryable: false })
        assert.strictEqual(count(fakes.openrouter, "POST", "/api/v1/keys") - before, 1)
        expect((yield* errorsOf("orbad"))[0].message).toContain("not JSON")
        yield* nothingLeft("orbad")
      }),
  )

  // --- AgentMail --------------------------------------------------------------------------------------------
  it.effect("AgentMail 429 on create: retried, the claim gets its inbox (and the agent no AgentMail key)", () =>
    Effect.gen(function* () {
      const fakes = yield* ProviderFakes
      let limited = 2
      const before = count(fakes.agentmail, "POST", "/v0/inboxes")
      const got = yield* withFault(
        (f) => f.agentmail,
        (r) =>
          r.path === "/v0/inboxes" && limited-- > 0
            ? { status: 429, headers: { "retry-after": "0" }, json: { name: "TooManyRequests" } }
            : fakes.agentmail.state.handle(r),
        acquire("am429"),
      )
      assert.strictEqual(count(fakes.agentmail, "POST", "/v0/inboxes") - before, 3)
      assert.strictEqual(
        got.resources.find((r) => r.provider === "agentmail")?.externalId,
        "convos-test-am429@agentmail.to",
      )
      assert.isUndefined(got.env.AGENTMAIL_API_KEY)
      yield* release("am429")
    }),
  )

  it.effect(
    "AgentMail timing out on every try: retried (idempotent), then the inbox, key and number are given back, error recorded",
    () =>
      Effect.gen(function* () {
        const fakes = yield* ProviderFakes
        const before = count(fakes.agentmail, "POST", "/v0/inboxes")
        const error = yield* Effect.flip(
          withFault(
            (f) => f.agentmail,
            (r) => slow(fakes.agentmail.state.handle(r)),
            acquire("amslow"),
          ),
        )
        expect(error).toMatchObject({ provider: "agentmail", status: null, retryable: true })
        expect(error.message).toContain("timed out")
        assert.strictEqual(count(fakes.agentmail, "POST", "/v0/inboxes") - before, 3)
        assert.deepStrictEqual(
          (yield* errorsOf("amslow")).map((e) => e.provider),
          ["agentmail"],
        )
        // AgentMail made the inbox (one: client_id) though no answer arrived: it is deleted by its known id too
        yield* Effect.sleep("1600 millis") // let the slow DELETE answer land
        yield* nothingLeft("amslow")
      }),
  )

  it.effect(
    "a claim timeout in the middle of a create still records what the provider made, so the release gives it back",
    () =>
      Effect.gen(function* () {
        const fakes = yield* ProviderFakes
        const resources = yield* AgentResources
        const id = "amcut"
        // The inbox is made at once, its answer takes 300 ms; the claim's timeout falls in between: it fires as soon as
        // AgentMail has the create (tied to that moment, not to a wall-clock guess of how long the steps before take).
        let created!: () => void
        const createArrived = new Promise<void>((resolve) => (created = resolve))
        const slowCreate = (r: RecordedRequest): Reply => {
          const reply = fakes.agentmail.state.handle(r) as Reply
          if (r.method !== "POST" || r.path !== "/v0/inboxes") return reply
          created()
          return { ...reply, delayMs: 300 }
        }
        const claimTimeout = Effect.promise(() => createArrived).pipe(
          Effect.andThen(Effect.fail("claim timed out" as const)),
        )
        const exit = yield* withFault(
          (f) => f.agentmail,
          slowCreate,
          resources.acquire(id).pipe(Effect.raceFirst(claimTimeout), Effect.exit),
        )
        assert.strictEqual(exit._tag, "Failure", "the claim timed out")
        assert.isTrue(
          [...fakes.agentmail.state.inboxes.keys()].some((i) => i.startsWith(`convos-test-${id}@`)),
          "AgentMail did make the inbox",
        )
        yield* resources.release(id)
        yield* nothingLeft(id)
      }),
  )
})
