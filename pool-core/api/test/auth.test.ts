import * as crypto from "node:crypto"
import { ConfigProvider, Effect, ManagedRuntime } from "effect"
import { afterEach, describe, expect, it, vi } from "vitest"
import { PoolTest } from "../../pool/testing.ts"
import { loadPoolApiKey } from "../config.ts"
import type { Run } from "../http.ts"

// The key comparison must not reveal the key's length: every comparison goes through timingSafeEqual on two
// fixed-size digests, whatever the lengths of the inputs. And POOL_API_KEY is read with effect Config, with errors
// that name it.

vi.mock("node:crypto", async (original) => {
  const real = await original<typeof import("node:crypto")>()
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual) }
})

const { safeEqual } = await import("../auth.ts")
const spy = vi.mocked(crypto.timingSafeEqual)

afterEach(() => spy.mockClear())

describe("safeEqual", () => {
  it("answers right for equal, different and differently long inputs", () => {
    expect(safeEqual("secret-key-0123456789", "secret-key-0123456789")).toBe(true)
    expect(safeEqual("secret-key-0123456789", "secret-key-0123456780")).toBe(false)
    expect(safeEqual("short", "secret-key-0123456789")).toBe(false)
    expect(safeEqual("", "secret-key-0123456789")).toBe(false)
    expect(safeEqual("", "")).toBe(true)
    expect(safeEqual("é", "e\u0301")).toBe(false)
  })

  it("compares fixed-size digests in constant time even when the lengths differ (no early length check)", () => {
    for (const guess of ["", "s", "short", "secret-key-0123456789", "x".repeat(10_000)]) {
      spy.mockClear()
      safeEqual(guess, "secret-key-0123456789")
      expect(spy, JSON.stringify(guess.slice(0, 10))).toHaveBeenCalledTimes(1)
      const [a, b] = spy.mock.calls[0]! as unknown as [Buffer, Buffer]
      expect([a.length, b.length]).toEqual([32, 32])
    }
  })
})

const keyFrom = (env: Record<string, string>) =>
  Effect.runPromise(
    Effect.result(
      loadPoolApiKey.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))),
    ),
  )

describe("POOL_API_KEY (effect Config)", () => {
  it("unset or empty is no key; a good key is used as is", async () => {
    expect(await keyFrom({})).toMatchObject({ _tag: "Success", success: null })
    expect(await keyFrom({ POOL_API_KEY: "" })).toMatchObject({ _tag: "Success", success: null })
    expect(await keyFrom({ POOL_API_KEY: "a-good-key-0123456789" })).toMatchObject({
      _tag: "Success",
      success: "a-good-key-0123456789",
    })
  })

  it("a short key or one with whitespace fails with InvalidConfig naming POOL_API_KEY and saying what to do", async () => {
    const short = await keyFrom({ POOL_API_KEY: "abc" })
    expect(short).toMatchObject({ _tag: "Failure", failure: { _tag: "InvalidConfig", variable: "POOL_API_KEY" } })
    expect(short._tag === "Failure" && short.failure.message).toMatch(
      /POOL_API_KEY is too short \(3 characters; at least 16\)/,
    )
    const spaced = await keyFrom({ POOL_API_KEY: "a-good-key-0123456789\n" })
    expect(spaced._tag === "Failure" && spaced.failure.message).toContain(
      "POOL_API_KEY must not contain spaces or line breaks",
    )
  })

  it("makeApiApp without an explicit key reads POOL_API_KEY and refuses a bad one at construction", async () => {
    // Effect's default ConfigProvider snapshots process.env on first use: set it before anything reads config.
    const { makeApiApp } = await import("../index.ts")
    const runtime = ManagedRuntime.make(PoolTest())
    const saved = process.env.POOL_API_KEY
    try {
      process.env.POOL_API_KEY = "tiny"
      expect(() => makeApiApp(runtime)).toThrow(/POOL_API_KEY is too short \(4 characters; at least 16\)/)
      // An explicit key (what npm start passes) does not read the environment.
      const app = makeApiApp(runtime, { apiKey: "explicit-key-0123456789" })
      const res = await app.request("/api/pool/reconcile", {
        method: "POST",
        headers: { authorization: "Bearer wrong-wrong-wrong-wrong" },
      })
      expect(res.status).toBe(401)
      expect((await res.json()).error).toBe("Wrong API key.")
    } finally {
      if (saved === undefined) delete process.env.POOL_API_KEY
      else process.env.POOL_API_KEY = saved
      await runtime.dispose()
    }
  })
})

describe("admin sessions and the key check (unit)", () => {
  const secret = "unit-session-secret"
  const DAY = 24 * 60 * 60 * 1000

  it("a session is valid for exactly 24 hours from sign-in, and only with its own signature", async () => {
    const { makeSession, validSession } = await import("../auth.ts")
    const t0 = 1_800_000_000_000
    const s = makeSession(secret, t0)
    expect(s.startsWith(`admin.${t0 + DAY}.`)).toBe(true)
    expect(validSession(secret, s, t0)).toBe(true)
    expect(validSession(secret, s, t0 + DAY - 1)).toBe(true)
    expect(validSession(secret, s, t0 + DAY)).toBe(false)
    expect(validSession("another-secret", s, t0)).toBe(false)
    const [, , signature] = s.split(".")
    // The expiry is signed: moving it keeps the old signature, which no longer matches.
    expect(validSession(secret, `admin.${t0 + 10 * DAY}.${signature}`, t0 + 2 * DAY)).toBe(false)
    expect(validSession(secret, undefined, t0)).toBe(false)
    expect(validSession(secret, "", t0)).toBe(false)
    expect(validSession(secret, "no-dot-at-all", t0)).toBe(false)
  })

  it("a session whose expiry is not a number is refused even when correctly signed", async () => {
    const { validSession } = await import("../auth.ts")
    const { createHmac } = await import("node:crypto")
    const signed = (payload: string) => `${payload}.${createHmac("sha256", secret).update(payload).digest("base64url")}`
    const now = 1_800_000_000_000
    expect(validSession(secret, signed(`admin.${now + DAY}`), now)).toBe(true)
    expect(validSession(secret, signed("admin.never"), now)).toBe(false)
    expect(validSession(secret, signed("admin.Infinity"), now)).toBe(false)
    expect(validSession(secret, signed("admin"), now)).toBe(false)
  })

  it("requireKey: no key configured answers 503; a missing key and a wrong key answer 401 saying which; Bearer in any case", async () => {
    const { Hono } = await import("hono")
    const { requireKey } = await import("../auth.ts")
    // Runs the session check's clock read (nothing else needs a runtime here).
    const run: Run = (effect) => Effect.runPromiseExit(effect as Effect.Effect<never, never>)
    const appWith = (apiKey: string | null) => {
      const app = new Hono()
      app.post("/x", requireKey(run, apiKey, secret), (c) => c.json({ ok: true }))
      return app
    }
    const off = await appWith(null).request("/x", {
      method: "POST",
      headers: { authorization: "Bearer anything-at-all-0000" },
    })
    expect(off.status).toBe(503)
    expect((await off.json()).error).toContain("set POOL_API_KEY")
    const app = appWith("unit-key-0123456789")
    const missing = await app.request("/x", { method: "POST" })
    expect([missing.status, (await missing.json()).error]).toEqual([
      401,
      "Missing API key: send Authorization: Bearer <POOL_API_KEY>.",
    ])
    const wrong = await app.request("/x", { method: "POST", headers: { authorization: "Bearer unit-key-0123456780" } })
    expect([wrong.status, (await wrong.json()).error]).toEqual([401, "Wrong API key."])
    const notBearer = await app.request("/x", { method: "POST", headers: { authorization: "unit-key-0123456789" } })
    expect(notBearer.status).toBe(401)
    // Another scheme that merely contains the word is not a bearer key.
    const otherScheme = await app.request("/x", {
      method: "POST",
      headers: { authorization: "Basic Bearer unit-key-0123456789" },
    })
    expect(otherScheme.status).toBe(401)
    for (const scheme of ["Bearer", "bearer", "BEARER"]) {
      expect(
        (await app.request("/x", { method: "POST", headers: { authorization: `${scheme} unit-key-0123456789` } }))
          .status,
        scheme,
      ).toBe(200)
    }
    expect(
      (await app.request("/x", { method: "POST", headers: { authorization: "Bearer  unit-key-0123456789 " } })).status,
      "surrounding spaces",
    ).toBe(200)
  })
})
