import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import { createServer } from "node:net"
import { makeProviderHttp, mayHaveHappened } from "./ProviderHttp.ts"
import { fakeApi } from "./testing.ts"

const secret = "sk-test-very-secret-0123456789"
const Thing = Schema.Struct({ id: Schema.String })

const client = (url: string, extra: Partial<Parameters<typeof makeProviderHttp>[0]> = {}) =>
  makeProviderHttp({
    provider: "acme",
    baseUrl: url,
    headers: { authorization: Redacted.make(`Bearer ${secret}`) },
    // Generous: a first request on a busy CI machine can take longer than 300 ms. The timeout tests set their own.
    timeout: "5 seconds",
    retries: 3,
    baseDelay: "10 millis",
    ...extra,
  })

describe("ProviderHttp", () => {
  it.live("sends method, path, auth and JSON body; decodes the answer", () =>
    Effect.gen(function* () {
      const api = yield* fakeApi(() => ({ json: { id: "t1", extra: true } }))
      const out = yield* client(api.url).json(
        { operation: "create", method: "POST", path: "/v1/things", body: { a: 1 } },
        Thing,
      )
      expect(out).toEqual({ id: "t1" })
      expect(api.requests).toHaveLength(1)
      const [r] = api.requests
      expect(r.method).toBe("POST")
      expect(r.path).toBe("/v1/things")
      expect(r.headers.authorization).toBe(`Bearer ${secret}`)
      expect(r.headers["content-type"]).toBe("application/json")
      expect(r.body).toEqual({ a: 1 })
    }).pipe(Effect.scoped),
  )

  it.live("retries 429 and honours Retry-After, then succeeds", () =>
    Effect.gen(function* () {
      const api = yield* fakeApi((_, n) =>
        n === 1
          ? { status: 429, headers: { "retry-after": "1" }, json: { error: "slow down" } }
          : { json: { id: "ok" } },
      )
      const started = Date.now()
      const out = yield* client(api.url).json({ operation: "get", method: "GET", path: "/x" }, Thing)
      expect(out.id).toBe("ok")
      expect(api.requests).toHaveLength(2)
      // base delay is 10 ms: only Retry-After explains a wait of about a second
      expect(Date.now() - started).toBeGreaterThanOrEqual(900)
    }).pipe(Effect.scoped),
  )

  it.live("retries 500 up to the limit, then fails with a clear retryable error", () =>
    Effect.gen(function* () {
      const api = yield* fakeApi(() => ({ status: 500, json: { error: "boom" } }))
      const error = yield* Effect.flip(
        client(api.url).request({ operation: "delete thing", method: "DELETE", path: "/x/1" }),
      )
      expect(api.requests).toHaveLength(4) // 1 + 3 retries
      expect(error).toMatchObject({
        _tag: "ProviderError",
        provider: "acme",
        operation: "delete thing",
        status: 500,
        retryable: true,
      })
      expect(error.message).toContain("failed with 500")
    }).pipe(Effect.scoped),
  )

  it.live("never retries other 4xx, and redacts the key the provider echoed back", () =>
    Effect.gen(function* () {
      const api = yield* fakeApi((r) => ({
        status: 401,
        json: { error: `invalid key ${String(r.headers.authorization)}` },
      }))
      const error = yield* Effect.flip(client(api.url).request({ operation: "list", method: "GET", path: "/x" }))
      expect(api.requests).toHaveLength(1)
      expect(error).toMatchObject({ status: 401, retryable: false })
      expect(error.message).toContain("check the API key")
      expect(error.message).toContain("[redacted]")
      expect(error.message).not.toContain(secret)
    }).pipe(Effect.scoped),
  )

  it.live("times out slow answers, retries them, then reports a timeout", () =>
    Effect.gen(function* () {
      const api = yield* fakeApi(() => ({ delayMs: 2_000, json: { id: "late" } }))
      const error = yield* Effect.flip(
        client(api.url, { retries: 1, timeout: "300 millis" }).json(
          { operation: "get", method: "GET", path: "/slow" },
          Thing,
        ),
      )
      expect(api.requests).toHaveLength(2)
      expect(error).toMatchObject({ status: null, retryable: true })
      expect(error.message).toContain("timed out after 300 ms")
    }).pipe(Effect.scoped),
  )

  it.live("a body that is not JSON, or of the wrong shape, fails without retry", () =>
    Effect.gen(function* () {
      const api = yield* fakeApi((_, n) => (n === 1 ? { raw: "<html>oops</html>" } : { json: { id: 42 } }))
      const http = client(api.url)
      const notJson = yield* Effect.flip(http.json({ operation: "get", method: "GET", path: "/a" }, Thing))
      expect(notJson).toMatchObject({ retryable: false, status: 200 })
      expect(notJson.message).toContain("not JSON")
      const wrongShape = yield* Effect.flip(http.json({ operation: "get", method: "GET", path: "/b" }, Thing))
      expect(wrongShape.message).toContain("unexpected shape")
      expect(api.requests).toHaveLength(2)
    }).pipe(Effect.scoped),
  )

  it.live("treats okStatuses (404 on delete) as success", () =>
    Effect.gen(function* () {
      const api = yield* fakeApi(() => ({ status: 404, json: { error: "not found" } }))
      const res = yield* client(api.url).request({
        operation: "delete",
        method: "DELETE",
        path: "/x/9",
        okStatuses: [404],
      })
      expect(res.status).toBe(404)
    }).pipe(Effect.scoped),
  )
  it.live("a malformed answer that carries a fresh key never puts the key in the error", () =>
    Effect.gen(function* () {
      const api = yield* fakeApi(() => ({ json: { key: { value: "sk-or-v1-abcdef123456" }, data: null } }))
      const Created = Schema.Struct({ key: Schema.String, data: Schema.Struct({ hash: Schema.String }) })
      const error = yield* Effect.flip(
        client(api.url).json({ operation: "create key", method: "POST", path: "/keys", body: {} }, Created),
      )
      expect(error.message).toContain("unexpected shape")
      expect(error.message).not.toContain("sk-or-v1-abcdef123456")
    }).pipe(Effect.scoped),
  )

  it.live(
    "a non-idempotent POST is not retried after a 500 or a timeout (it may have happened), but after a 429 it is",
    () =>
      Effect.gen(function* () {
        const api = yield* fakeApi((r) =>
          r.path === "/boom"
            ? { status: 500, json: {} }
            : r.path === "/slow"
              ? { delayMs: 2_000, json: { id: "late" } }
              : { status: 429, json: {} },
        )
        const http = client(api.url, { timeout: "300 millis" })
        const boom = yield* Effect.flip(
          http.json({ operation: "create", method: "POST", path: "/boom", body: {} }, Thing),
        )
        expect(boom).toMatchObject({ status: 500, retryable: true })
        expect(boom.message).toContain("not retried: it may have been carried out")
        expect(mayHaveHappened(boom)).toBe(true)
        const slow = yield* Effect.flip(
          http.json({ operation: "create", method: "POST", path: "/slow", body: {} }, Thing),
        )
        expect(slow).toMatchObject({ status: null, retryable: true })
        expect(mayHaveHappened(slow)).toBe(true)
        const limited = yield* Effect.flip(
          http.json({ operation: "create", method: "POST", path: "/limited", body: {} }, Thing),
        )
        expect(limited.status).toBe(429)
        expect(mayHaveHappened(limited)).toBe(false)
        expect(api.requests.map((r) => r.path)).toEqual([
          "/boom",
          "/slow",
          "/limited",
          "/limited",
          "/limited",
          "/limited",
        ])
      }).pipe(Effect.scoped),
  )

  it.live("a POST marked idempotent is retried on 500; any request is retried when the connection was refused", () =>
    Effect.gen(function* () {
      const api = yield* fakeApi((_, n) => (n < 3 ? { status: 503, json: {} } : { json: { id: "ok" } }))
      const out = yield* client(api.url).json(
        { operation: "create", method: "POST", path: "/x", body: {}, idempotent: true },
        Thing,
      )
      expect(out.id).toBe("ok")
      expect(api.requests).toHaveLength(3)
      // a port nobody listens on: the request never left, so even a create may be retried
      const port = yield* Effect.promise(
        () =>
          new Promise<number>((resolve) => {
            const s = createServer().listen(0, "127.0.0.1", () => {
              const p = (s.address() as { port: number }).port
              s.close(() => resolve(p))
            })
          }),
      )
      const started = Date.now()
      const refused = yield* Effect.flip(
        client(`http://127.0.0.1:${port}`, { retries: 2, baseDelay: "50 millis" }).request({
          operation: "create",
          method: "POST",
          path: "/x",
          body: {},
        }),
      )
      expect(refused.message).toContain("ECONNREFUSED")
      expect(refused.message).not.toContain("not retried")
      expect(Date.now() - started).toBeGreaterThanOrEqual(140) // 50 + 100 ms of backoff: it was retried twice
    }).pipe(Effect.scoped),
  )
})
