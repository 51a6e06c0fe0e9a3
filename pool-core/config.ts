import { createHmac, createHash, randomBytes } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { Config, Context, Duration, Effect, Layer, Option, Redacted } from "effect"
import { DataDir } from "@convos-agents/contract"
import { InvalidConfig } from "./domain/errors.ts"
import { defaultImageFetch, type ImageFetchSettings } from "./pool/avatar/fetchImage.ts"
import { loadModelSettings, type ModelSettings, NO_MODELS } from "./pool/models.ts"
import { quotaDefaults, type QuotaSettings, quotaSettingsConfig } from "./pool/quota/settings.ts"

// Every variable read here is documented in .env.example. Invalid values fail at start with a message that names
// the variable and says what is allowed.

const nonNegativeInt = (name: string, fallback: number) => Config.Int(name).pipe(Config.withDefault(fallback))

const requireNonNegative = (variable: string, n: number) =>
  n >= 0
    ? Effect.void
    : Effect.fail(new InvalidConfig({ variable, message: `${variable} must be a whole number ≥ 0 (got ${n}).` }))

export interface PoolSettings {
  readonly dataDir: string
  readonly minIdle: number
  readonly maxTotal: number
  readonly tickInterval: Duration.Duration
  /** How long an instance may stay unhealthy/unknown before it is declared dead (or crashed, when claimed). */
  readonly deathGrace: Duration.Duration
  /** A `starting` instance that never became ready within this is dead. */
  readonly startTimeout: Duration.Duration
  readonly provisionTimeout: Duration.Duration
  /** How long a claim that may wait (chat /new, API `wait`) waits for an agent when none is idle (CLAIM_WAIT). */
  readonly claimWait: Duration.Duration
  readonly healthTimeout: Duration.Duration
  /** Secret that derives each instance's bearer token (HMAC), so tokens never need storing. */
  readonly tokenSecret: Redacted.Redacted<string>
  readonly runTick: boolean
  /**
   * A replica counts as gone (its claims left `claiming` get resolved by the others) only once its session lock has
   * been free this long: a live replica whose database session drops and comes back is not taken for dead.
   */
  readonly replicaGoneAfter: Duration.Duration
  /** AGENTS_PER_OWNER, API_CLAIMS_PER_HOUR, WEB_AGENT_TTL (pool/quota/settings.ts). */
  readonly quotas: QuotaSettings
  /** The configured model and what `/model` may switch to (MODELS_ALLOWED; pool/models.ts). */
  readonly models: ModelSettings
  /**
   * Compute provider calls per day the tick plans against (RAILWAY_CALLS_PER_DAY: Railway's account limit is 10K a day
   * across environments). Status, create and destroy calls spend it; when it runs low the tick asks less and waits.
   */
  readonly providerCallsPerDay: number
  /** How often the provider is asked about starting or unhealthy instances (healthy ones answer /pool/health). */
  readonly providerStatusInterval: Duration.Duration
  /** After a failed create (or a start timeout), creates pause this long before one trial; it doubles per failure. */
  readonly createBackoff: Duration.Duration
  /** The longest pause between create trials. */
  readonly createBackoffMax: Duration.Duration
  /** How /avatar fetches a picture from a URL a person sent (size, time, AVATAR_FETCH_ALLOW_PRIVATE). */
  readonly avatarFetch: ImageFetchSettings
}

export class PoolConfig extends Context.Service<PoolConfig, PoolSettings>()("pool-core/config/PoolConfig") {}

export const instanceToken = (settings: Pick<PoolSettings, "tokenSecret">, instanceId: string): string =>
  createHmac("sha256", Redacted.value(settings.tokenSecret)).update(instanceId).digest("hex")

export const tokenHash = (token: string): string => createHash("sha256").update(token).digest("hex")

/** The embedded default: a random secret generated once and kept under DATA_DIR. */
const persistedSecret = (dataDir: string): string => {
  const file = join(dataDir, "pool-token-secret")
  if (existsSync(file)) return readFileSync(file, "utf8").trim()
  mkdirSync(dataDir, { recursive: true })
  const secret = randomBytes(32).toString("hex")
  writeFileSync(file, secret, { mode: 0o600 })
  return secret
}

export const poolSettingsConfig = Config.all({
  dataDir: DataDir,
  minIdle: nonNegativeInt("POOL_MIN_IDLE", 2),
  maxTotal: nonNegativeInt("POOL_MAX_TOTAL", 6),
  tickInterval: Config.Duration("POOL_TICK_INTERVAL").pipe(Config.withDefault(Duration.seconds(10))),
  deathGrace: Config.Duration("POOL_DEATH_GRACE").pipe(Config.withDefault(Duration.minutes(3))),
  startTimeout: Config.Duration("POOL_START_TIMEOUT").pipe(Config.withDefault(Duration.minutes(5))),
  provisionTimeout: Config.Duration("POOL_PROVISION_TIMEOUT").pipe(Config.withDefault(Duration.seconds(90))),
  claimWait: Config.Duration("CLAIM_WAIT").pipe(Config.withDefault(Duration.minutes(3))),
  healthTimeout: Config.Duration("POOL_HEALTH_TIMEOUT").pipe(Config.withDefault(Duration.seconds(5))),
  tokenSecret: Config.option(Config.Redacted("POOL_TOKEN_SECRET")),
  runTick: Config.Boolean("POOL_TICK").pipe(Config.withDefault(true)),
  replicaGoneAfter: Config.Duration("POOL_REPLICA_GONE_AFTER").pipe(Config.withDefault(Duration.seconds(15))),
  quotas: quotaSettingsConfig,
  providerCallsPerDay: nonNegativeInt("RAILWAY_CALLS_PER_DAY", 8_000),
  providerStatusInterval: Config.Duration("POOL_PROVIDER_STATUS_INTERVAL").pipe(
    Config.withDefault(Duration.minutes(1)),
  ),
  createBackoff: Config.Duration("POOL_CREATE_BACKOFF").pipe(Config.withDefault(Duration.seconds(30))),
  createBackoffMax: Config.Duration("POOL_CREATE_BACKOFF_MAX").pipe(Config.withDefault(Duration.minutes(30))),
  avatarAllowPrivate: Config.String("AVATAR_FETCH_ALLOW_PRIVATE").pipe(Config.withDefault("")),
})

export const loadPoolSettings = Effect.gen(function* () {
  const raw = yield* poolSettingsConfig.pipe(
    Effect.mapError(
      (e) =>
        new InvalidConfig({
          variable: "environment",
          message: `Invalid environment variable: ${e.message}. See .env.example for what each variable accepts.`,
        }),
    ),
  )
  yield* requireNonNegative("POOL_MIN_IDLE", raw.minIdle)
  yield* requireNonNegative("POOL_MAX_TOTAL", raw.maxTotal)
  yield* requireNonNegative("AGENTS_PER_OWNER", raw.quotas.agentsPerOwner)
  yield* requireNonNegative("API_CLAIMS_PER_HOUR", raw.quotas.apiClaimsPerHour)
  if (raw.providerCallsPerDay < 100) {
    return yield* new InvalidConfig({
      variable: "RAILWAY_CALLS_PER_DAY",
      message: `RAILWAY_CALLS_PER_DAY must be a whole number ≥ 100 (got ${raw.providerCallsPerDay}): the pool needs some provider calls to create and check agents. Default: 8000.`,
    })
  }
  if (raw.maxTotal < raw.minIdle) {
    return yield* new InvalidConfig({
      variable: "POOL_MAX_TOTAL",
      message: `POOL_MAX_TOTAL (${raw.maxTotal}) must be ≥ POOL_MIN_IDLE (${raw.minIdle}); raise POOL_MAX_TOTAL or lower POOL_MIN_IDLE.`,
    })
  }
  const dataDir = resolve(raw.dataDir)
  const tokenSecret = Option.isSome(raw.tokenSecret)
    ? raw.tokenSecret.value
    : Redacted.make(yield* Effect.sync(() => persistedSecret(dataDir)))
  const models = yield* loadModelSettings
  const { avatarAllowPrivate, ...rest } = raw
  const allowPrivate = avatarAllowPrivate
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
  const bad = allowPrivate.find((s) => !/^[^\s:/]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(s))
  if (bad !== undefined)
    return yield* new InvalidConfig({
      variable: "AVATAR_FETCH_ALLOW_PRIVATE",
      message: `AVATAR_FETCH_ALLOW_PRIVATE must be host:port pairs separated by commas, such as 127.0.0.1:9000 (got "${bad}").`,
    })
  const avatarFetch = { ...defaultImageFetch, allowPrivate }
  return { ...rest, dataDir, tokenSecret, models, avatarFetch } satisfies PoolSettings
})

export const PoolConfigLive = Layer.effect(PoolConfig, loadPoolSettings)

/** For tests and benchmarks: explicit settings, no environment. */
export const poolConfigLayer = (overrides: Partial<PoolSettings> = {}) =>
  Layer.succeed(PoolConfig, {
    dataDir: resolve(".data"),
    minIdle: 0,
    maxTotal: 100_000,
    tickInterval: Duration.seconds(10),
    deathGrace: Duration.seconds(30),
    startTimeout: Duration.minutes(5),
    provisionTimeout: Duration.seconds(10),
    claimWait: Duration.seconds(30),
    healthTimeout: Duration.seconds(2),
    tokenSecret: Redacted.make("test-secret"),
    runTick: false,
    replicaGoneAfter: Duration.zero,
    // Tests and benchmarks claim many agents for one owner: no caps unless a test sets them (the quota tests do).
    quotas: { ...quotaDefaults, agentsPerOwner: 0, apiClaimsPerHour: 0 },
    models: NO_MODELS,
    // Tests that are not about the budget or the create circuit should not feel them: a huge budget, no pause.
    providerCallsPerDay: 1_000_000_000,
    providerStatusInterval: Duration.zero,
    createBackoff: Duration.zero,
    createBackoffMax: Duration.zero,
    avatarFetch: defaultImageFetch,
    ...overrides,
  })
