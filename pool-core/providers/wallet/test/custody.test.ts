// Wallet custody through the real parts: PoolLive with live AgentResources holding local wallets (AES-256-GCM with a
// key from config), real SQL. The key exists only as ciphertext in the pool's database, survives the agent's compute
// being destroyed and a restarted pool (re-adopt), and is deleted when the agent is released, with an event.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it, layer } from "@effect/vitest"
import { hexToBytes } from "@noble/hashes/utils.js"
import { ConfigProvider, Effect, Exit, Layer, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { Pool } from "../../../pool/Pool.ts"
import { MemoryCloud, PoolTest, startPool } from "../../../pool/testing.ts"
import { agentMailDisabled } from "../../agentmail/AgentMail.ts"
import type { AgentResources } from "../../AgentResources.ts"
import type { PoolConfig } from "../../../config.ts"
import type { ProviderCircuit } from "../../../pool/ProviderCircuit.ts"
import type { RuntimeClient } from "../../../pool/RuntimeClient.ts"
import { Compute } from "../../compute/Compute.ts"
import { openRouterDisabled } from "../../openrouter/OpenRouter.ts"
import { AgentResourcesLive } from "../../resources/AgentResourcesLive.ts"
import { telnyxDisabled } from "../../telnyx/Telnyx.ts"
import { AgentWallets, localWalletsLayer } from "../AgentWallets.ts"
import { addressOf } from "../evm.ts"
import { ReplicasHere } from "../../../pool/ReplicasHere.ts"
import { decryptSecret, encryptSecret, loadWalletKey, parseWalletKey, WALLET_KEY_FILE } from "../walletCrypto.ts"

const KEY = Redacted.make(Buffer.from("11".repeat(32), "hex"))
const wallets = localWalletsLayer(KEY)
// AgentResourcesLive with only local wallets configured; PoolTest's test database serves it too (its SqlClient).
const resources = AgentResourcesLive.pipe(
  Layer.provideMerge(Layer.mergeAll(telnyxDisabled, openRouterDisabled, agentMailDisabled, wallets)),
)
const world = PoolTest({ resources: resources as unknown as Layer.Layer<AgentResources> }) as unknown as Layer.Layer<
  | Pool
  | MemoryCloud
  | Compute
  | SqlClient.SqlClient
  | AgentWallets
  | AgentResources
  | PoolConfig
  | RuntimeClient
  | ProviderCircuit
  | ReplicasHere
>

layer(world, { timeout: "120 seconds", excludeTestServices: true })("wallet custody", (it) => {
  it.effect(
    "the key is held encrypted by the pool, survives destroy and re-adopt, and is deleted on release with an event",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const cloud = yield* MemoryCloud
        const compute = yield* Compute
        const sql = yield* SqlClient.SqlClient
        const w = yield* AgentWallets
        yield* pool.replenish(1)
        yield* pool.tick
        const claimed = yield* pool.claim({ key: "wallet-1", claimedBy: "owner-w" })
        const id = claimed.instance.id
        const wallet = Option.getOrThrow(yield* w.get(id))
        const key = Redacted.value(Option.getOrThrow(yield* w.privateKey(id)))
        expect(addressOf(hexToBytes(key.slice(2)))).toBe(wallet.address)
        // at rest: ciphertext only, bound to the instance
        const [row] = yield* sql<{
          secretCiphertext: string
        }>`SELECT secret_ciphertext FROM agent_wallets WHERE instance_id = ${id}`
        expect(row!.secretCiphertext).toMatch(/^v1:/)
        expect(row!.secretCiphertext).not.toContain(key.slice(2))
        expect(decryptSecret(KEY, "another-instance", row!.secretCiphertext)).toBeNull()
        // never sent to the agent
        const sent = [...cloud.instances.values()].find((i) => i.instanceId === id)!.provisioned!
        expect(JSON.stringify(sent)).not.toContain(key.slice(2))
        expect(JSON.stringify(sent)).not.toContain("PRIVATE_WALLET_KEY")
        // the agent's compute is destroyed (container gone, state dir removed): the wallet stays
        yield* compute.destroy(claimed.instance.providerRef!)
        expect(Redacted.value(Option.getOrThrow(yield* w.privateKey(id)))).toBe(key)
        // a restarted pool (same database) re-adopts the instance and still holds the same key
        const restarted = yield* startPool()
        expect((yield* restarted.pool.get(id)).status).toBe("claimed")
        expect(Redacted.value(Option.getOrThrow(yield* w.privateKey(id)))).toBe(key)
        // release: the key is gone, and an event says which wallet went
        yield* restarted.pool.release(id, "owner-w")
        yield* restarted.close
        expect(Option.isNone(yield* w.get(id))).toBe(true)
        expect(yield* sql`SELECT 1 FROM agent_wallets WHERE instance_id = ${id}`).toHaveLength(0)
        const events = yield* sql<{
          kind: string
          detail: string
        }>`SELECT kind, detail FROM events WHERE instance_id = ${id} AND kind = 'wallet-deleted'`
        expect(events).toHaveLength(1)
        expect(events[0]!.detail).toContain(`address=${wallet.address}`)
        expect(events[0]!.detail).toContain("provider=local")
      }),
  )
})

describe("wallet encryption key", () => {
  it.effect("from WALLET_ENCRYPTION_KEY (hex); a malformed value is refused naming the variable", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "wallet-key-"))
      try {
        const hex = "ab".repeat(32)
        const key = yield* loadWalletKey(dir).pipe(
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ WALLET_ENCRYPTION_KEY: hex }))),
        )
        expect(Redacted.value(key).toString("hex")).toBe(hex)
        expect(existsSync(join(dir, WALLET_KEY_FILE))).toBe(false)
        const bad = yield* Effect.exit(
          loadWalletKey(dir).pipe(
            Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ WALLET_ENCRYPTION_KEY: "short" }))),
          ),
        )
        expect(Exit.isFailure(bad)).toBe(true)
        expect(JSON.stringify(bad)).toContain("WALLET_ENCRYPTION_KEY")
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }),
  )

  it.effect("on the embedded default a key is generated once under DATA_DIR with mode 0600 and reused", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "wallet-key-"))
      try {
        const empty = Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({})))
        const first = yield* loadWalletKey(dir).pipe(empty)
        const file = join(dir, WALLET_KEY_FILE)
        expect(statSync(file).mode & 0o777).toBe(0o600)
        expect(parseWalletKey(readFileSync(file, "utf8"))?.equals(Redacted.value(first))).toBe(true)
        const second = yield* loadWalletKey(dir).pipe(empty)
        expect(Redacted.value(second).equals(Redacted.value(first))).toBe(true)
        // a secret encrypted with the first key reads back with the reloaded one, and not with another key
        const stored = encryptSecret(first, "i1", "0xsecret")
        expect(decryptSecret(second, "i1", stored)).toBe("0xsecret")
        expect(decryptSecret(KEY, "i1", stored)).toBeNull()
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }),
  )
})
