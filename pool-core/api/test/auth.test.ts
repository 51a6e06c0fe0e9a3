import * as crypto from "node:crypto"
import { ConfigProvider, Effect, ManagedRuntime } from "effect"
import { afterEach, describe, expect, it, vi } from "vitest"
import { PoolTest } from "../../pool/testing.ts"
import { loadPoolApiKey } from "../config.ts"

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
  Effect.runPromise(Effect.result(loadPoolApiKey.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))))

describe("POOL_API_KEY (effect Config)", () => {
  it("unset or empty is no key; a good key is used as is", async () => {
    expect(await keyFrom({})).toMatchObject({ _tag: "Success", success: null })
    expect(await keyFrom({ POOL_API_KEY: "" })).toMatchObject({ _tag: "Success", success: null })
    expect(await keyFrom({ POOL_API_KEY: "a-good-key-0123456789" })).toMatchObject({ _tag: "Success", success: "a-good-key-0123456789" })
  })

  it("a short key or one with whitespace fails with InvalidConfig naming POOL_API_KEY and saying what to do", async () => {
    const short = await keyFrom({ POOL_API_KEY: "abc" })
    expect(short).toMatchObject({ _tag: "Failure", failure: { _tag: "InvalidConfig", variable: "POOL_API_KEY" } })
    expect(short._tag === "Failure" && short.failure.message).toMatch(/POOL_API_KEY is too short \(3 characters; at least 16\)/)
    const spaced = await keyFrom({ POOL_API_KEY: "a-good-key-0123456789\n" })
    expect(spaced._tag === "Failure" && spaced.failure.message).toContain("POOL_API_KEY must not contain spaces or line breaks")
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
      const res = await app.request("/api/pool/reconcile", { method: "POST", headers: { authorization: "Bearer wrong-wrong-wrong-wrong" } })
      expect(res.status).toBe(401)
      expect((await res.json()).error).toBe("Wrong API key.")
    } finally {
      if (saved === undefined) delete process.env.POOL_API_KEY
      else process.env.POOL_API_KEY = saved
      await runtime.dispose()
    }
  })
})
