import { resolve } from "node:path"
import { Config, Effect, Layer, Option } from "effect"
import { DataDir } from "@convos-agents/contract"
import {
  type Compute,
  DatabaseLive,
  fromConfigError,
  InvalidConfig,
  PoolConfigLive,
  PoolLive,
  RuntimeClientLive,
} from "@convos-agents/pool-core"
import { embeddedMessagingLayer, Messaging, metered } from "@convos-agents/messaging"
import { BotMigrations, ManagerBotLive } from "@convos-agents/manager-bot"
import { localComputeLayer } from "@convos-agents/pool-core/compute/local"
import { dockerComputeLayerFromEnv } from "@convos-agents/pool-core/compute/docker"
import { railwayComputeLayerFromEnv } from "@convos-agents/pool-core/compute/railway"
import { type ComputeChoice, computeChoice, describeCompute } from "@convos-agents/pool-core/compute/select"
import { agentResourcesLayerFromEnv, OrphanKeySweeperLive } from "@convos-agents/pool-core/providers/resources"
import { AgentServicesLive } from "@convos-agents/pool-core/providers/services"
import { NotionPromptsLive } from "@convos-agents/pool-core/providers/notion"
import { LoggingLive, ReadinessLive, TelemetryLive } from "@convos-agents/pool-core/observability"

// How `npm start` is put together: database (pool-core's migrations and the bot's) → messaging → pool (compute, runtime client, provider resources, tick)
// → manager bot. Compute: COMPUTE=local|railway|docker, else Railway when a Railway token is set (RAILWAY_API_TOKEN,
// RAILWAY_API_TOKENS or RAILWAY_TOKEN), else local agent processes (pool-core/providers/compute/select.ts).

/** The variables composing reads (which compute, and what start says about each part). */
const COMPOSE_VARS = [
  "COMPUTE",
  "RAILWAY_API_TOKEN",
  "RAILWAY_API_TOKENS",
  "RAILWAY_TOKEN",
  "DOCKER_RUNTIME_IMAGE",
  "DOCKER_HOST",
  "DATABASE_URL",
  "XMTP_ENV",
  "DEVNET_URL",
] as const

export type ComposeEnv = Readonly<Partial<Record<(typeof COMPOSE_VARS)[number], string>>>

/** Those variables, read through Config (the provider main hands the system). */
export const composeEnv: Effect.Effect<ComposeEnv, InvalidConfig> = Effect.forEach(COMPOSE_VARS, (name) =>
  Effect.map(Config.option(Config.String(name)), (v) => [name, Option.getOrUndefined(v)] as const),
).pipe(
  Effect.map((pairs) => Object.fromEntries(pairs.filter(([, v]) => v !== undefined)) as ComposeEnv),
  Effect.mapError(fromConfigError),
)

/** The compute COMPUTE selects (select.ts); one that does not exist is InvalidConfig naming COMPUTE. */
export const computeSetting: Effect.Effect<ComputeChoice, InvalidConfig> = Effect.flatMap(composeEnv, (env) =>
  Effect.try({
    try: () => computeChoice(env),
    catch: (e) => new InvalidConfig({ variable: "COMPUTE", message: e instanceof Error ? e.message : String(e) }),
  }),
)

/** Agents on this machine's devnet need its URL, known only once the devnet is up. */
const localCompute = Layer.unwrap(
  Effect.gen(function* () {
    const messaging = yield* Messaging
    return localComputeLayer({
      dataDir: resolve(yield* DataDir.pipe(Effect.orDie)),
      baseEnv: messaging.devnetUrl ? { DEVNET_URL: messaging.devnetUrl } : {},
    })
  }),
)
const dockerCompute = Layer.unwrap(
  Effect.gen(function* () {
    const messaging = yield* Messaging
    return dockerComputeLayerFromEnv({ baseEnv: messaging.devnetUrl ? { DEVNET_URL: messaging.devnetUrl } : {} })
  }),
)

/** What start says about each part, and the compute it runs, from the settings (through Config). */
export const describeParts = Effect.gen(function* () {
  const env = yield* composeEnv
  const compute = yield* computeSetting
  const lines = [
    `database: ${env.DATABASE_URL ? "Postgres from DATABASE_URL" : "embedded PGlite (set DATABASE_URL for Postgres)"}`,
    `messaging: ${env.XMTP_ENV ? `XMTP ${env.XMTP_ENV}` : env.DEVNET_URL ? `devnet at ${env.DEVNET_URL}` : "embedded devnet (set XMTP_ENV=dev|production for XMTP)"}`,
    `compute: ${describeCompute(compute, env)}`,
    "provider resources: OpenRouter, AgentMail, Telnyx, Bankr for each one whose keys are set (.env.example)",
  ]
  return { compute, lines }
})

/** Every part's migrations (pool-core's and the bot's tables), merged by pool-core's one loader. */
export const AppMigrations = BotMigrations

export interface AppOptions {
  /**
   * The compute layer instead of the one COMPUTE selects: the two-replica soak test (server/test/soak) runs this exact
   * composition with a loopback fake cloud, since a real agent per claim is far too heavy for minutes of chat.
   */
  readonly compute?: Layer.Layer<Compute, unknown, Messaging>
}

export const AppLayer = (options: AppOptions = {}) => {
  const compute =
    options.compute ??
    Layer.unwrap(
      Effect.map(
        computeSetting,
        (choice): Layer.Layer<Compute, unknown, Messaging> =>
          choice === "railway" ? railwayComputeLayerFromEnv : choice === "docker" ? dockerCompute : localCompute,
      ),
    )
  const database = DatabaseLive.pipe(Layer.provide(AppMigrations))
  // Readiness (/readyz) checks the database itself; the pool's tick and the bot's messaging register their checks.
  const base = Layer.mergeAll(database, metered(embeddedMessagingLayer), PoolConfigLive).pipe(
    Layer.provideMerge(ReadinessLive),
    Layer.provideMerge(database),
  )
  // NotionPrompts: templates' Notion pages for claims, and GET /api/prompts (NOTION_API_KEY; without it both say so).
  const pool = PoolLive.pipe(
    Layer.provideMerge(Layer.mergeAll(compute, RuntimeClientLive, agentResourcesLayerFromEnv, NotionPromptsLive)),
  )
  // AgentServices (the agents' email/SMS/wallet API) uses the provider clients agentResourcesLayerFromEnv built.
  const app = Layer.mergeAll(ManagerBotLive, OrphanKeySweeperLive, AgentServicesLive).pipe(
    Layer.provideMerge(pool),
    Layer.provideMerge(base),
  )
  // Logging (LOG_FORMAT, LOG_LEVEL) and OTLP export (OTEL_EXPORTER_OTLP_ENDPOINT) under everything, so every log
  // line, span and metric of the system goes through them.
  return app.pipe(Layer.provideMerge(TelemetryLive), Layer.provideMerge(LoggingLive))
}
