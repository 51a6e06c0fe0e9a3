import { assert, expect, layer } from "@effect/vitest"
import { type Duration, Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { TestDatabase } from "../../db/testing.ts"
import { fakeApi } from "../http/testing.ts"
import { apiKey, profile, telnyxApi } from "./fake.ts"
import { withTelnyxMessaging } from "./fakeMessaging.ts"
import { Telnyx, telnyxDisabled, telnyxLive } from "./Telnyx.ts"

// Tests of a lost answer pass SLOW_ANSWER_TIMEOUT (their fake answers after 1 s); the others leave room for a loaded machine.
const SLOW_ANSWER_TIMEOUT = "300 millis"
const live = (url: string, timeout: Duration.Input = "10 seconds") =>
  telnyxLive({
    apiKey: Redacted.make(apiKey),
    environment: "staging",
    baseUrl: url,
    messagingProfileId: profile,
    http: { baseDelay: "5 millis", timeout },
    random: () => 0,
    assignBackoff: "5 millis",
  })

const calls = (api: { requests: ReadonlyArray<{ method: string; path: string }> }) =>
  api.requests.map((r) => `${r.method} ${r.path.split("?")[0]}`)

const reset = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DELETE FROM phone_numbers`
  return sql
})

layer(TestDatabase, { timeout: "120 seconds", excludeTestServices: true })("Telnyx", (it) => {
  it.effect("reuses a pooled number before buying, and release returns it to the pool", () =>
    Effect.gen(function* () {
      const sql = yield* reset
      yield* sql`INSERT INTO phone_numbers (phone_number, status) VALUES ('+15550009999', 'available')`
      const fake = telnyxApi()
      fake.own("+15550009999")
      const api = yield* fakeApi(fake.handle)
      const telnyx = yield* Effect.provide(Effect.service(Telnyx), live(api.url))
      assert.strictEqual(yield* telnyx.acquire("p1"), "+15550009999")
      // nothing is bought; the number is (re)assigned to the messaging profile before the agent gets it
      assert.deepStrictEqual(calls(api), ["PATCH /phone_numbers/%2B15550009999/messaging"])
      assert.strictEqual(fake.messaging.get("+15550009999"), profile)
      assert.deepStrictEqual(yield* telnyx.counts, { available: 0, assigned: 1 })
      assert.strictEqual(yield* telnyx.release("p1"), 1)
      assert.strictEqual(yield* telnyx.release("p1"), 0, "a second release frees nothing")
      const rows = yield* sql<{
        status: string
        instanceId: string | null
      }>`SELECT status, instance_id FROM phone_numbers`
      assert.deepStrictEqual(rows, [{ status: "available", instanceId: null }])
    }).pipe(Effect.scoped),
  )

  it.effect("with an empty pool it searches, orders with the messaging profile, and keeps the number", () =>
    Effect.gen(function* () {
      const sql = yield* reset
      const fake = telnyxApi({ conflictsFirst: 1 })
      const api = yield* fakeApi(fake.handle)
      const telnyx = yield* Effect.provide(Effect.service(Telnyx), live(api.url))
      const phone = yield* telnyx.acquire("o1")
      // first order hit 422 (someone else bought it): searched again and ordered the next one
      assert.deepStrictEqual(calls(api), [
        "GET /available_phone_numbers",
        "POST /number_orders",
        "GET /available_phone_numbers",
        "POST /number_orders",
        `PATCH /phone_numbers/${encodeURIComponent(phone)}/messaging`,
      ])
      assert.strictEqual(phone, fake.ordered[0])
      const rows = yield* sql<{
        phoneNumber: string
        status: string
        instanceId: string
      }>`SELECT phone_number, status, instance_id FROM phone_numbers`
      assert.deepStrictEqual(rows, [{ phoneNumber: phone, status: "assigned", instanceId: "o1" }])
      yield* telnyx.release("o1")
      assert.strictEqual(yield* telnyx.acquire("o2"), phone, "the released number is reused")
      assert.strictEqual(fake.ordered.length, 1, "nothing more was bought")
    }).pipe(Effect.scoped),
  )

  it.effect("concurrent acquires never get the same number", () =>
    Effect.gen(function* () {
      const sql = yield* reset
      for (const n of ["+15551110001", "+15551110002", "+15551110003"])
        yield* sql`INSERT INTO phone_numbers (phone_number, status) VALUES (${n}, 'available')`
      let seq = 0
      const fake = telnyxApi()
      for (const n of ["+15551110001", "+15551110002", "+15551110003"]) fake.own(n)
      const api = yield* fakeApi((r) => {
        // answer each search with a different number, so concurrent orders do not collide at "Telnyx"
        if (r.path.startsWith("/available_phone_numbers"))
          return { json: { data: [{ phone_number: `+1555222${String(++seq).padStart(4, "0")}` }] } }
        return fake.handle(r)
      })
      const telnyx = yield* Effect.provide(Effect.service(Telnyx), live(api.url))
      const phones = yield* Effect.forEach(["c1", "c2", "c3", "c4", "c5", "c6"], (id) => telnyx.acquire(id), {
        concurrency: "unbounded",
      })
      assert.strictEqual(new Set(phones).size, 6)
      assert.strictEqual(phones.filter((p) => p.startsWith("+1555111")).length, 3, "all pooled numbers used")
      assert.strictEqual(fake.ordered.length, 3, "only the missing three were bought")
      const rows = yield* sql<{ instanceId: string }>`SELECT instance_id FROM phone_numbers WHERE status = 'assigned'`
      assert.strictEqual(new Set(rows.map((r) => r.instanceId)).size, 6)
    }).pipe(Effect.scoped),
  )

  it.effect("4xx on order fails at once; disabled Telnyx still releases numbers", () =>
    Effect.gen(function* () {
      const sql = yield* reset
      const api = yield* fakeApi((r) =>
        r.method === "POST" ? { status: 403, json: { errors: [{ title: "Forbidden" }] } } : telnyxApi().handle(r),
      )
      const telnyx = yield* Effect.provide(Effect.service(Telnyx), live(api.url))
      const error = yield* Effect.flip(telnyx.acquire("f1"))
      expect(error).toMatchObject({ _tag: "ProviderError", provider: "telnyx", status: 403, retryable: false })
      assert.strictEqual(api.requests.filter((r) => r.method === "POST").length, 1)
      assert.lengthOf(yield* sql`SELECT 1 FROM phone_numbers`, 0)

      yield* sql`INSERT INTO phone_numbers (phone_number, status, instance_id) VALUES ('+15553330001', 'assigned', 'd1')`
      const disabled = yield* Effect.provide(Effect.service(Telnyx), telnyxDisabled)
      expect((yield* Effect.flip(disabled.acquire("d2"))).message).toContain("set TELNYX_API_KEY")
      assert.strictEqual(yield* disabled.release("d1"), 1)
    }).pipe(Effect.scoped),
  )

  it.effect("an order timing out after Telnyx placed it: found by its reference, bought once, recorded", () =>
    Effect.gen(function* () {
      const sql = yield* reset
      const fake = telnyxApi()
      let slow = 1
      const api = yield* fakeApi((r) => {
        const reply = fake.handle(r)
        return r.method === "POST" && slow-- > 0 ? { ...reply, delayMs: 1_000 } : reply // done, answer lost (timeout 300 ms)
      })
      const telnyx = yield* Effect.provide(Effect.service(Telnyx), live(api.url, SLOW_ANSWER_TIMEOUT))
      const phone = yield* telnyx.acquire("t1")
      assert.strictEqual(fake.ordered.length, 1, "bought exactly once")
      assert.strictEqual(phone, fake.ordered[0])
      assert.strictEqual(api.requests.filter((r) => r.method === "POST").length, 1, "the order is never resent blindly")
      const lookup = api.requests.find((r) => r.method === "GET" && r.path.startsWith("/number_orders"))!
      assert.strictEqual(
        new URL(lookup.path, "http://x").searchParams.get("filter[customer_reference]"),
        "convos-staging-agent-t1",
      )
      assert.deepStrictEqual(yield* sql`SELECT phone_number, status, instance_id FROM phone_numbers`, [
        { phoneNumber: phone, status: "assigned", instanceId: "t1" },
      ])
    }).pipe(Effect.scoped),
  )

  it.effect("a 500 before the order happened: the lookup finds nothing, so it orders again (one number bought)", () =>
    Effect.gen(function* () {
      const sql = yield* reset
      const fake = telnyxApi()
      let failing = 1
      const api = yield* fakeApi((r) =>
        r.method === "POST" && failing-- > 0
          ? { status: 500, json: { errors: [{ title: "Internal" }] } }
          : fake.handle(r),
      )
      const telnyx = yield* Effect.provide(Effect.service(Telnyx), live(api.url))
      const phone = yield* telnyx.acquire("t2")
      assert.deepStrictEqual(calls(api), [
        "GET /available_phone_numbers",
        "POST /number_orders",
        "GET /number_orders",
        "GET /available_phone_numbers",
        "POST /number_orders",
        `PATCH /phone_numbers/${encodeURIComponent(phone)}/messaging`,
      ])
      assert.deepStrictEqual(fake.ordered, [phone])
      assert.deepStrictEqual(
        yield* sql`SELECT phone_number, status FROM phone_numbers`,
        [{ phoneNumber: phone, status: "assigned" }],
        "the first pick's reservation is gone",
      )
    }).pipe(Effect.scoped),
  )

  it.effect("a 429 on the order is retried (Telnyx refused it), and buys one number", () =>
    Effect.gen(function* () {
      yield* reset
      const fake = telnyxApi()
      let limited = 2
      const api = yield* fakeApi((r) =>
        r.method === "POST" && limited-- > 0
          ? { status: 429, headers: { "retry-after": "0" }, json: { errors: [{ title: "Too many requests" }] } }
          : fake.handle(r),
      )
      const telnyx = yield* Effect.provide(Effect.service(Telnyx), live(api.url))
      yield* telnyx.acquire("t3")
      assert.strictEqual(api.requests.filter((r) => r.method === "POST").length, 3)
      assert.strictEqual(fake.ordered.length, 1)
      assert.isFalse(
        api.requests.some((r) => r.method === "GET" && r.path.startsWith("/number_orders")),
        "a 429 needs no lookup",
      )
    }).pipe(Effect.scoped),
  )

  it.effect("a malformed order answer: looked up, and the number it bought is kept, not bought again", () =>
    Effect.gen(function* () {
      const sql = yield* reset
      const fake = telnyxApi()
      const api = yield* fakeApi((r) => {
        const reply = fake.handle(r)
        return r.method === "POST" ? { raw: "<html>upstream garbage</html>" } : reply
      })
      const telnyx = yield* Effect.provide(Effect.service(Telnyx), live(api.url))
      const phone = yield* telnyx.acquire("t4")
      assert.deepStrictEqual(fake.ordered, [phone])
      assert.lengthOf(yield* sql`SELECT 1 FROM phone_numbers WHERE instance_id = 't4'`, 1)
    }).pipe(Effect.scoped),
  )

  it.effect("a bought number is assigned to the messaging profile, 404 retried while its order propagates", () =>
    Effect.gen(function* () {
      yield* reset
      const fake = telnyxApi({ propagationPatches: 2 })
      const api = yield* fakeApi(fake.handle)
      const telnyx = yield* Effect.provide(Effect.service(Telnyx), live(api.url))
      const phone = yield* telnyx.acquire("m1")
      const patches = api.requests.filter((r) => r.method === "PATCH")
      assert.strictEqual(patches.length, 3, "two 404s while the order propagates, then assigned")
      for (const p of patches)
        expect(p).toMatchObject({
          path: `/phone_numbers/${encodeURIComponent(phone)}/messaging`,
          body: { messaging_profile_id: profile },
        })
      assert.strictEqual(fake.messaging.get(phone), profile)
      assert.strictEqual(fake.ordered.length, 1)
    }).pipe(Effect.scoped),
  )

  it.effect(
    "a number Telnyx never comes to know: the claim fails after the bounded retries, the number stays recorded for release",
    () =>
      Effect.gen(function* () {
        const sql = yield* reset
        const fake = telnyxApi({ propagationPatches: 100 })
        const api = yield* fakeApi(fake.handle)
        const telnyx = yield* Effect.provide(Effect.service(Telnyx), live(api.url))
        const error = yield* Effect.flip(telnyx.acquire("m2"))
        expect(error).toMatchObject({
          _tag: "ProviderError",
          provider: "telnyx",
          operation: "assign number to messaging profile",
          status: 404,
        })
        expect(error.message).toContain("its next use assigns it again")
        assert.strictEqual(api.requests.filter((r) => r.method === "PATCH").length, 6, "first try + 5 retries")
        assert.strictEqual(fake.ordered.length, 1, "bought once, never again")
        assert.deepStrictEqual(yield* sql`SELECT phone_number, instance_id FROM phone_numbers`, [
          { phoneNumber: fake.ordered[0], instanceId: "m2" },
        ])
      }).pipe(Effect.scoped),
  )

  it.effect("the order lookup reads orders listed without phone_numbers (the API does not promise them)", () =>
    Effect.gen(function* () {
      yield* reset
      const fake = telnyxApi()
      let slow = 1
      const api = yield* fakeApi((r) => {
        // an earlier order of the same reference whose numbers are not attached yet: listed without phone_numbers
        const reference = (r.body as { customer_reference?: string } | undefined)?.customer_reference
        if (r.method === "POST" && reference)
          fake.orders.push({
            id: `order-early-${fake.orders.length}`,
            status: "pending",
            customer_reference: reference,
          })
        const reply = fake.handle(r)
        return r.method === "POST" && slow-- > 0 ? { ...reply, delayMs: 1_000 } : reply // placed, answer lost
      })
      const telnyx = yield* Effect.provide(Effect.service(Telnyx), live(api.url, SLOW_ANSWER_TIMEOUT))
      const phone = yield* telnyx.acquire("t6")
      assert.deepStrictEqual(fake.ordered, [phone], "found by the lookup, bought once")
      assert.isTrue(api.requests.some((r) => r.method === "GET" && r.path.startsWith("/number_orders")))
    }).pipe(Effect.scoped),
  )

  it.effect("when the database cannot record a number, nothing is bought", () =>
    Effect.gen(function* () {
      const sql = yield* reset
      yield* sql.unsafe(
        `CREATE OR REPLACE FUNCTION refuse_numbers() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql`,
      )
      yield* sql.unsafe(
        `CREATE TRIGGER refuse_numbers BEFORE INSERT ON phone_numbers FOR EACH ROW EXECUTE FUNCTION refuse_numbers()`,
      )
      const fake = telnyxApi()
      const api = yield* fakeApi(fake.handle)
      const telnyx = yield* Effect.provide(Effect.service(Telnyx), live(api.url))
      const error = yield* Effect.flip(telnyx.acquire("t5"))
      yield* sql.unsafe(`DROP TRIGGER refuse_numbers ON phone_numbers`)
      expect(error.message).toContain("database error")
      assert.strictEqual(fake.ordered.length, 0)
      assert.isFalse(api.requests.some((r) => r.method === "POST"))
    }).pipe(Effect.scoped),
  )

  it.effect("sends an SMS from the agent's number with the org key and the messaging profile", () =>
    Effect.gen(function* () {
      yield* reset
      const numbers = telnyxApi()
      const messaging = withTelnyxMessaging(() => numbers.ordered, numbers.handle)
      const api = yield* fakeApi(messaging.handle)
      const telnyx = yield* Effect.provide(Effect.service(Telnyx), live(api.url))
      const from = yield* telnyx.acquire("sms1")
      const id = yield* telnyx.sendSms(from, "+15551230000", "Hello")
      assert.deepStrictEqual(api.requests.at(-1)?.body, {
        from,
        to: "+15551230000",
        text: "Hello",
        messaging_profile_id: profile,
      })
      assert.strictEqual(api.requests.at(-1)?.headers.authorization, `Bearer ${apiKey}`)
      assert.deepStrictEqual(
        messaging.sent.map((m) => m.id),
        [id],
      )
      const refused = yield* Effect.flip(telnyx.sendSms(from, "not-a-number", "Hello"))
      assert.strictEqual(refused._tag === "ProviderError" ? refused.status : null, 422)
    }).pipe(Effect.scoped),
  )
})
