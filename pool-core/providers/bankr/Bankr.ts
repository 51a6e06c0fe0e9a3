import { secp256k1 } from "@noble/curves/secp256k1.js"
import { keccak_256 } from "@noble/hashes/sha3.js"
import { bytesToHex } from "@noble/hashes/utils.js"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { NotConfigured } from "../../domain/errors.ts"
import { optionalSecret, readConfig } from "../http/env.ts"

// Bankr has no per-agent provisioning API (upstream passes one org BANKR_API_KEY to every instance and generates a
// wallet key per instance). So "acquiring" Bankr = a fresh secp256k1 wallet key for this agent plus the org key.
// Only the address is recorded; the private key exists only in the runtime's env (nothing to release at Bankr).

export interface BankrWallet {
  readonly address: string
  readonly env: Readonly<Record<string, string>>
}

export class Bankr extends Context.Service<Bankr, {
  readonly configured: boolean
  readonly wallet: (instanceId: string) => Effect.Effect<BankrWallet, NotConfigured>
}>()("pool-core/providers/bankr/Bankr") {}

/** Ethereum address of a secp256k1 private key: last 20 bytes of keccak256(uncompressed pubkey without 0x04). */
export const addressOf = (privateKey: Uint8Array): string =>
  `0x${bytesToHex(keccak_256(secp256k1.getPublicKey(privateKey, false).slice(1)).slice(-20))}`

export const bankrLive = (apiKey: Redacted.Redacted<string>) =>
  Layer.succeed(Bankr, {
    configured: true,
    wallet: () =>
      Effect.sync(() => {
        const privateKey = secp256k1.utils.randomSecretKey()
        const address = addressOf(privateKey)
        return {
          address,
          env: { BANKR_API_KEY: Redacted.value(apiKey), PRIVATE_WALLET_KEY: `0x${bytesToHex(privateKey)}`, WALLET_ADDRESS: address },
        }
      }),
  })

export const bankrDisabled = Layer.succeed(Bankr, {
  configured: false,
  wallet: () => Effect.fail(NotConfigured.create("Bankr", "BANKR_API_KEY")),
})

/** Live when BANKR_API_KEY is set, disabled otherwise. */
export const bankrLayerFromEnv = Layer.unwrap(
  Effect.gen(function* () {
    const key = yield* readConfig(optionalSecret("BANKR_API_KEY"))
    return Option.isNone(key) ? bankrDisabled : bankrLive(key.value)
  })
)
