import { describe, expect, it } from "@effect/vitest"
import { hexToBytes } from "@noble/hashes/utils.js"
import { ConfigProvider, Effect, Layer, Redacted } from "effect"
import { addressOf, Bankr, bankrLayerFromEnv, bankrLive } from "./Bankr.ts"

describe("Bankr", () => {
  it("derives the Ethereum address of a key (known vector: private key 1)", () => {
    expect(addressOf(hexToBytes("0000000000000000000000000000000000000000000000000000000000000001"))).toBe("0x7e5f4552091a69125d5dfcb7b8c2659029395bdf")
  })

  it.effect("gives each instance its own wallet key plus the org key", () =>
    Effect.gen(function* () {
      const bankr = yield* Bankr
      const a = yield* bankr.wallet("a")
      const b = yield* bankr.wallet("b")
      expect(a.address).not.toBe(b.address)
      expect(a.env.PRIVATE_WALLET_KEY).toMatch(/^0x[0-9a-f]{64}$/)
      expect(addressOf(hexToBytes(a.env.PRIVATE_WALLET_KEY.slice(2)))).toBe(a.address)
      expect(a.env.BANKR_API_KEY).toBe("bk_secret")
      expect(a.env.WALLET_ADDRESS).toBe(a.address)
    }).pipe(Effect.provide(bankrLive(Redacted.make("bk_secret"))))
  )

  it.effect("without BANKR_API_KEY it is disabled", () =>
    Effect.gen(function* () {
      const bankr = yield* Bankr
      expect(bankr.configured).toBe(false)
      expect((yield* Effect.flip(bankr.wallet("a"))).message).toBe("Bankr is not configured: set BANKR_API_KEY to use it.")
    }).pipe(Effect.provide(bankrLayerFromEnv.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({}))))))
  )
})
