import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Redacted } from "effect"
import { fakeApi } from "../http/testing.ts"
import { Bankr, bankrLayerFromEnv, bankrLive, walletIdempotencyKey } from "./Bankr.ts"
import { bankrPartnerApi, partnerKey } from "./fake.ts"

// A generous timeout (the machine may be busy), except where a lost answer is the point of the test.
const live = (url: string, key = partnerKey, timeout: `${number} seconds` | `${number} second` = "10 seconds") =>
  bankrLive({
    partnerKey: Redacted.make(key),
    baseUrl: url,
    environment: "staging",
    http: { baseDelay: "5 millis", timeout, retries: 2 },
  })

describe("Bankr (Partner API wallets)", () => {
  it.live(
    "makes one wallet per agent with the partner key and a documented body; a repeat returns the same wallet",
    () =>
      Effect.gen(function* () {
        const fake = bankrPartnerApi()
        const api = yield* fakeApi(fake.handle)
        const bankr = yield* Effect.provide(Effect.service(Bankr), live(api.url))
        const a = yield* bankr.createWallet("a")
        const again = yield* bankr.createWallet("a")
        const b = yield* bankr.createWallet("b")
        expect(again).toEqual(a)
        expect(b.address).not.toBe(a.address)
        expect(a.address).toMatch(/^0x[0-9a-f]{40}$/)
        expect(fake.wallets.size).toBe(2)
        expect(api.requests[0]).toMatchObject({
          method: "POST",
          path: "/partner/wallets",
          body: { idempotencyKey: "convos-staging-agent-a" },
          headers: { "x-partner-key": partnerKey },
        })
        expect(api.requests.map((r) => r.body)).toEqual([
          { idempotencyKey: "convos-staging-agent-a" },
          { idempotencyKey: "convos-staging-agent-a" },
          { idempotencyKey: "convos-staging-agent-b" },
        ])
      }).pipe(Effect.scoped),
  )

  it.live("a lost answer is retried with the same idempotency key: one wallet at Bankr", () =>
    Effect.gen(function* () {
      const fake = bankrPartnerApi()
      let lost = 1
      const api = yield* fakeApi((r) => (lost-- > 0 ? { ...fake.handle(r), delayMs: 5_000 } : fake.handle(r)))
      const bankr = yield* Effect.provide(Effect.service(Bankr), live(api.url, partnerKey, "1 second"))
      const w = yield* bankr.createWallet("lost")
      expect(api.requests).toHaveLength(2)
      expect([...fake.wallets.values()].map((x) => x.evmAddress)).toEqual([w.address])
    }).pipe(Effect.scoped),
  )

  it.live("a wrong partner key is an unauthorized fault, and the key never shows in the error", () =>
    Effect.gen(function* () {
      const api = yield* fakeApi(bankrPartnerApi().handle)
      const bankr = yield* Effect.provide(
        Effect.service(Bankr),
        live(api.url, "bk_ptr_Wrong123_wrongsecretwrongsecretwrongsecr"),
      )
      const e = yield* Effect.flip(bankr.createWallet("x"))
      expect(e).toMatchObject({ _tag: "ProviderError", status: 401, retryable: false })
      expect(e.message).toContain("invalid or inactive")
      expect(e.message).not.toContain("wrongsecret")
    }).pipe(Effect.scoped),
  )

  it("idempotency keys carry the environment and stay within Bankr's 128 characters", () => {
    expect(walletIdempotencyKey("production", "i1")).toBe("convos-production-agent-i1")
    expect(walletIdempotencyKey("production", "x".repeat(200)).length).toBe(128)
  })

  it.effect("without BANKR_PARTNER_KEY it is disabled (an old BANKR_API_KEY alone enables nothing)", () =>
    Effect.gen(function* () {
      const bankr = yield* Bankr
      expect(bankr.configured).toBe(false)
      expect((yield* Effect.flip(bankr.createWallet("a"))).message).toBe(
        "Bankr is not configured: set BANKR_PARTNER_KEY to use it.",
      )
    }).pipe(
      Effect.provide(
        bankrLayerFromEnv.pipe(
          Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ BANKR_API_KEY: "bk_old_shared" }))),
        ),
      ),
    ),
  )
})
