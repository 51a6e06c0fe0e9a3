import { Context, Effect, Layer, Option, Redacted } from "effect"
import { DataDir } from "@convos-agents/contract"
import { SqlClient } from "effect/sql"
import { InvalidConfig, NotConfigured, ProviderError } from "../../domain/errors.ts"
import { Bankr, bankrLayerFromEnv } from "../bankr/Bankr.ts"
import { readConfig, stringOr } from "../http/env.ts"
import { newEvmKey } from "./evm.ts"
import { decryptSecret, encryptSecret, loadWalletKey } from "./walletCrypto.ts"

// Each agent's wallet, held by the pool (table agent_wallets), never by the agent: the agent learns its address
// through the pool's service API and nothing else. Two kinds (AGENT_WALLETS):
// - "bankr": a Bankr wallet per agent from the Partner API; Bankr holds its keys, the pool its id and address.
// - "local": an EVM key made here, stored only as AES-256-GCM ciphertext (walletCrypto.ts).
// A wallet is made once per instance (a second create returns the row) and lives until the agent's resources are
// released: it survives the agent's process or container being destroyed, a manager restart and a re-adopt.
// `remove` deletes the row and records a `wallet-deleted` event (with the address) in the same statement.

export type WalletMode = "bankr" | "local" | "off"

export interface AgentWallet {
  readonly provider: "bankr" | "local"
  /** Bankr wallet id, or the address for a local key. */
  readonly walletRef: string
  readonly address: string
}

export class AgentWallets extends Context.Service<
  AgentWallets,
  {
    readonly mode: WalletMode
    readonly configured: boolean
    readonly create: (instanceId: string) => Effect.Effect<AgentWallet, ProviderError | NotConfigured>
    readonly get: (instanceId: string) => Effect.Effect<Option.Option<AgentWallet>, ProviderError>
    /** A local wallet's private key (operators' recovery; never sent to an agent). None for Bankr or no wallet. */
    readonly privateKey: (instanceId: string) => Effect.Effect<Option.Option<Redacted.Redacted<string>>, ProviderError>
    /** Deletes the wallet row and records `wallet-deleted`; false when the instance had none. */
    readonly remove: (instanceId: string, reason: string) => Effect.Effect<boolean, ProviderError>
  }
>()("pool-core/providers/wallet/AgentWallets") {}

const dbError = (operation: string) => (cause: unknown) =>
  new ProviderError({
    provider: "database",
    operation,
    status: null,
    retryable: true,
    message: `wallets ${operation}: database error: ${String(cause)}`,
  })

interface Row {
  readonly provider: "bankr" | "local"
  readonly walletRef: string
  readonly address: string
  readonly secretCiphertext: string | null
}

const walletTable = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const row = (instanceId: string) =>
    sql<Row>`SELECT provider, wallet_ref, address, secret_ciphertext FROM agent_wallets WHERE instance_id = ${instanceId}`.pipe(
      Effect.map((rows) => Option.fromNullishOr(rows[0])),
      Effect.mapError(dbError("read wallet")),
    )
  /** Inserts unless a row exists; returns the row that is there afterwards (a concurrent create keeps the first). */
  const insert = (instanceId: string, r: Row) =>
    sql`INSERT INTO agent_wallets (instance_id, provider, wallet_ref, address, secret_ciphertext)
        VALUES (${instanceId}, ${r.provider}, ${r.walletRef}, ${r.address}, ${r.secretCiphertext}) ON CONFLICT (instance_id) DO NOTHING`.pipe(
      Effect.andThen(row(instanceId)),
      Effect.mapError(dbError("record wallet")),
      Effect.flatMap(
        Option.match({
          onNone: () => Effect.fail(dbError("record wallet")("the wallet row vanished")),
          onSome: Effect.succeed,
        }),
      ),
    )
  const remove = (instanceId: string, reason: string) =>
    sql<{ instanceId: string }>`
      WITH del AS (DELETE FROM agent_wallets WHERE instance_id = ${instanceId} RETURNING instance_id, provider, wallet_ref, address),
      ev AS (
        INSERT INTO events (instance_id, from_status, to_status, kind, detail)
        SELECT del.instance_id, i.status, i.status, 'wallet-deleted',
               'provider=' || del.provider || ' wallet=' || del.wallet_ref || ' address=' || del.address || ' reason=' || ${reason}
        FROM del LEFT JOIN instances i ON i.id = del.instance_id
      )
      SELECT instance_id FROM del`.pipe(
      Effect.map((rows) => rows.length > 0),
      Effect.mapError(dbError("delete wallet")),
    )
  return { row, insert, remove }
})

const publicView = (r: Row): AgentWallet => ({ provider: r.provider, walletRef: r.walletRef, address: r.address })

const makeWallets = (
  mode: WalletMode,
  make: (instanceId: string) => Effect.Effect<Row, ProviderError | NotConfigured>,
  key: Redacted.Redacted<Buffer> | null,
) =>
  Effect.gen(function* () {
    const table = yield* walletTable
    return AgentWallets.of({
      mode,
      configured: mode !== "off",
      create: (instanceId) =>
        table.row(instanceId).pipe(
          Effect.flatMap(
            Option.match({
              onSome: Effect.succeed,
              onNone: () => make(instanceId).pipe(Effect.flatMap((r) => table.insert(instanceId, r))),
            }),
          ),
          Effect.map(publicView),
        ),
      get: (instanceId) => table.row(instanceId).pipe(Effect.map(Option.map(publicView))),
      privateKey: (instanceId) =>
        table.row(instanceId).pipe(
          Effect.flatMap((o) => {
            if (Option.isNone(o) || o.value.secretCiphertext === null)
              return Effect.succeed(Option.none<Redacted.Redacted<string>>())
            if (key === null)
              return Effect.fail(
                dbError("read wallet key")(
                  "local wallets are not enabled (AGENT_WALLETS=local), so the key cannot be decrypted",
                ),
              )
            const plain = decryptSecret(key, instanceId, o.value.secretCiphertext)
            return plain === null
              ? Effect.fail(
                  dbError("read wallet key")(
                    `the key of ${instanceId}'s wallet does not decrypt: WALLET_ENCRYPTION_KEY differs from the key it was stored with`,
                  ),
                )
              : Effect.succeed(Option.some(Redacted.make(plain)))
          }),
        ),
      remove: table.remove,
    })
  })

/** Bankr wallets (needs Bankr). */
export const bankrWalletsLayer = Layer.effect(
  AgentWallets,
  Effect.gen(function* () {
    const bankr = yield* Bankr
    return yield* makeWallets(
      "bankr",
      (instanceId) =>
        bankr
          .createWallet(instanceId)
          .pipe(
            Effect.map(
              (w): Row => ({ provider: "bankr", walletRef: w.walletId, address: w.address, secretCiphertext: null }),
            ),
          ),
      null,
    )
  }),
)

/** Local keys encrypted with `key`. */
export const localWalletsLayer = (key: Redacted.Redacted<Buffer>) =>
  Layer.effect(
    AgentWallets,
    makeWallets(
      "local",
      (instanceId) =>
        Effect.sync(() => {
          const k = newEvmKey()
          return {
            provider: "local",
            walletRef: k.address,
            address: k.address,
            secretCiphertext: encryptSecret(key, instanceId, k.privateKey),
          } satisfies Row
        }),
      key,
    ),
  )

/** No new wallets; rows left from before are still found and removed on release. */
export const walletsDisabledLayer = Layer.effect(
  AgentWallets,
  makeWallets(
    "off",
    () => Effect.fail(NotConfigured.create("Wallets", "AGENT_WALLETS (bankr with BANKR_PARTNER_KEY, or local)")),
    null,
  ),
)

/**
 * AGENT_WALLETS: "bankr" (default when BANKR_PARTNER_KEY is set), "local", or "off" (default otherwise). Local keys
 * are encrypted with WALLET_ENCRYPTION_KEY, or a key generated under DATA_DIR.
 */
export const agentWalletsLayerFromEnv = Layer.unwrap(
  Effect.gen(function* () {
    const bankrCtx = yield* Layer.build(bankrLayerFromEnv)
    const bankr = Context.get(bankrCtx, Bankr)
    const raw = (yield* readConfig(stringOr("AGENT_WALLETS", bankr.configured ? "bankr" : "off"))).trim().toLowerCase()
    if (raw === "off" || raw === "") return walletsDisabledLayer
    if (raw === "bankr") {
      if (!bankr.configured)
        return yield* new InvalidConfig({
          variable: "BANKR_PARTNER_KEY",
          message:
            "AGENT_WALLETS=bankr needs BANKR_PARTNER_KEY (a Bankr partner key, bk_ptr_…); set it, or use AGENT_WALLETS=local or off.",
        })
      return bankrWalletsLayer.pipe(Layer.provide(Layer.succeed(Bankr, bankr)))
    }
    if (raw === "local") {
      const dataDir = yield* readConfig(DataDir)
      const key = yield* loadWalletKey(dataDir)
      return localWalletsLayer(key)
    }
    return yield* new InvalidConfig({
      variable: "AGENT_WALLETS",
      message: `AGENT_WALLETS must be bankr, local or off (got "${raw}").`,
    })
  }),
)
