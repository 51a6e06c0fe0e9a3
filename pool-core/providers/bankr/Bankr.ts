import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { NotConfigured, type ProviderError } from "../../domain/errors.ts"
import { resourcePrefix } from "../environment.ts"
import { optionalSecret, providerEnvironment, readConfig, stringOr } from "../http/env.ts"
import { makeProviderHttp, type ProviderHttpOptions } from "../http/ProviderHttp.ts"

// One Bankr wallet per agent, made with Bankr's Partner API (POST /partner/wallets, X-Partner-Key): Bankr holds the
// wallet's keys (custodial, like every Bankr wallet); the pool keeps the wallet id and EVM address. The partner key
// (BANKR_PARTNER_KEY) never leaves the pool, and no per-wallet API key is requested, so nothing that can move funds
// exists outside Bankr and the pool. The idempotency key names the environment and the instance: a retried create
// (lost answer, restart mid-claim) returns the same wallet instead of a second one. See README.md.

/** What the documented create answer (200 existing / 201 created) carries that we use; other fields are ignored. */
const CreatedWallet = Schema.Struct({
  id: Schema.String,
  evmAddress: Schema.String.check(Schema.isPattern(/^0x[0-9a-fA-F]{40}$/)),
})

export interface BankrWallet {
  readonly walletId: string
  readonly address: string
}

export class Bankr extends Context.Service<
  Bankr,
  {
    readonly configured: boolean
    /** The instance's Bankr wallet: created on the first call, the same one on every later call (idempotency key). */
    readonly createWallet: (instanceId: string) => Effect.Effect<BankrWallet, ProviderError | NotConfigured>
  }
>()("pool-core/providers/bankr/Bankr") {}

export interface BankrSettings {
  readonly partnerKey: Redacted.Redacted<string>
  readonly baseUrl: string
  /** POOL_ENVIRONMENT: part of every idempotency key, so two deployments never share a wallet. */
  readonly environment: string
  readonly http?: Partial<ProviderHttpOptions>
}

/** The idempotency key of an instance's wallet (documented limit: 128 characters). */
export const walletIdempotencyKey = (environment: string, instanceId: string) =>
  `${resourcePrefix(environment)}agent-${instanceId}`.slice(0, 128)

export const bankrLive = (settings: BankrSettings) =>
  Layer.sync(Bankr, () => {
    const http = makeProviderHttp({
      provider: "bankr",
      baseUrl: settings.baseUrl,
      headers: { "x-partner-key": settings.partnerKey },
      ...settings.http,
    })
    return Bankr.of({
      configured: true,
      createWallet: (instanceId) =>
        http
          .json(
            {
              operation: "create wallet",
              method: "POST",
              path: "partner/wallets",
              body: { idempotencyKey: walletIdempotencyKey(settings.environment, instanceId) },
              idempotent: true, // idempotencyKey: a repeat answers the same wallet (200)
            },
            CreatedWallet,
          )
          .pipe(Effect.map((w) => ({ walletId: w.id, address: w.evmAddress.toLowerCase() }))),
    })
  })

export const bankrDisabled = Layer.succeed(Bankr, {
  configured: false,
  createWallet: () => Effect.fail(NotConfigured.create("Bankr", "BANKR_PARTNER_KEY")),
})

/**
 * Live when BANKR_PARTNER_KEY is set, disabled otherwise. BANKR_API_KEY (an account's agent key, which earlier
 * versions handed to every agent: one wallet, the org's funds, for everybody) is no longer used; a warning says so.
 */
export const bankrLayerFromEnv = Layer.unwrap(
  Effect.gen(function* () {
    const key = yield* readConfig(optionalSecret("BANKR_PARTNER_KEY"))
    const legacy = yield* readConfig(optionalSecret("BANKR_API_KEY"))
    if (Option.isSome(legacy)) {
      yield* Effect.logWarning(
        "BANKR_API_KEY is set but no longer used: agents get their own Bankr wallet through the Partner API (BANKR_PARTNER_KEY). Remove BANKR_API_KEY.",
      )
    }
    if (Option.isNone(key)) return bankrDisabled
    const baseUrl = yield* readConfig(stringOr("BANKR_BASE_URL", "https://api.bankr.bot"))
    const environment = yield* providerEnvironment
    return bankrLive({ partnerKey: key.value, baseUrl, environment })
  }),
)
