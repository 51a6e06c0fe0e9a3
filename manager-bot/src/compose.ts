import { existsSync } from "node:fs"
import { resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Layer } from "effect"
import {
  AgentResources,
  AgentResourcesNone,
  Compute,
  DatabaseLive,
  PoolConfigLive,
  PoolLive,
  ProviderError,
  RuntimeClientLive,
} from "@convos-agents/pool-core"
import { embeddedMessagingLayer, Messaging } from "@convos-agents/pool-core/messaging"
import { ManagerBotLive } from "./ManagerBot.ts"

// How `npm start` is put together. Parts that other packages provide are loaded when present; a missing part is
// reported at start and replaced by a layer that refuses clearly (never by a fake).

const poolCore = new URL("../../pool-core/", import.meta.url)
const has = (path: string) => existsSync(fileURLToPath(new URL(path, poolCore)))

/** No compute provider installed: creating instances fails with a message that says so. */
const ComputeMissing = Layer.succeed(Compute, {
  name: "local",
  create: () =>
    Effect.fail(new ProviderError({ provider: "local", operation: "create", status: null, retryable: false, message: "No compute provider is available in this build (pool-core/providers/compute/local is missing)." })),
  destroy: () => Effect.void,
  statusBatch: (refs) => Effect.succeed(new Map(refs.map((r) => [r.providerRef, { providerRef: r.providerRef, state: "gone" as const, url: null }]))),
})

const computeLayer = async (): Promise<Layer.Layer<Compute, unknown, Messaging>> => {
  if (process.env.RAILWAY_API_TOKEN && has("providers/railway/index.ts")) {
    const m = await import(new URL("providers/railway/index.ts", poolCore).href)
    return m.RailwayComputeLive as Layer.Layer<Compute, unknown>
  }
  if (has("providers/compute/local/index.ts")) {
    const m = await import(new URL("providers/compute/local/index.ts", poolCore).href)
    // Agents are child processes: they need the devnet's URL, known only once the devnet is up.
    return Layer.unwrap(
      Effect.gen(function* () {
        const messaging = yield* Messaging
        const dataDir = resolve(process.env.DATA_DIR ?? ".data")
        return m.localComputeLayer({ dataDir, baseEnv: messaging.devnetUrl ? { DEVNET_URL: messaging.devnetUrl } : {} }) as Layer.Layer<Compute>
      })
    ) as Layer.Layer<Compute, unknown, Messaging>
  }
  return ComputeMissing
}

const resourcesLayer = async (): Promise<Layer.Layer<AgentResources, unknown>> => {
  if (has("providers/resources/index.ts")) {
    const m = await import(new URL("providers/resources/index.ts", poolCore).href)
    return m.AgentResourcesFromEnv as Layer.Layer<AgentResources, unknown>
  }
  return AgentResourcesNone
}

export const computeName = () =>
  process.env.RAILWAY_API_TOKEN && has("providers/railway/index.ts") ? "railway" : has("providers/compute/local/index.ts") ? "local" : "none"

export const describeParts = async () => [
  `database: ${process.env.DATABASE_URL ? "Postgres from DATABASE_URL" : "embedded PGlite (set DATABASE_URL for Postgres)"}`,
  `messaging: ${process.env.XMTP_ENV ? `XMTP ${process.env.XMTP_ENV}` : process.env.DEVNET_URL ? `devnet at ${process.env.DEVNET_URL}` : "embedded devnet (set XMTP_ENV=dev|production for XMTP)"}`,
  `compute: ${process.env.RAILWAY_API_TOKEN && has("providers/railway/index.ts") ? "Railway" : has("providers/compute/local/index.ts") ? "local agent processes" : "MISSING (no compute provider in this build: agents cannot start)"}`,
  `provider resources: ${has("providers/resources/index.ts") ? "from the environment (OpenRouter, AgentMail, Telnyx, Bankr when their keys are set)" : "none"}`,
]

/** Database → pool (with its tick) → bot, all in one layer whose scope is the process. */
export const AppLayer = async () => {
  const compute = await computeLayer()
  const resources = await resourcesLayer()
  const base = Layer.mergeAll(DatabaseLive, embeddedMessagingLayer, PoolConfigLive)
  const pool = PoolLive.pipe(Layer.provideMerge(Layer.mergeAll(compute, RuntimeClientLive, resources)))
  // The tick must not start agents before the devnet they talk to exists: messaging is built first.
  return ManagerBotLive.pipe(Layer.provideMerge(pool), Layer.provideMerge(base))
}
