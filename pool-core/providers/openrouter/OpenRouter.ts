import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import {
  InvalidConfig,
  InvalidRequest,
  NotConfigured,
  type ProviderError,
  ResourceConflict,
} from "../../domain/errors.ts"
import { resourcePrefix } from "../environment.ts"
import { optionalSecret, providerEnvironment, readConfig, stringOr } from "../http/env.ts"
import { makeProviderHttp, mayHaveHappened, type ProviderHttpOptions } from "../http/ProviderHttp.ts"

// Per-agent OpenRouter keys through the provisioning-key API: each agent gets its own key with a monthly spend cap,
// so one chatty agent cannot drain the org's credits. Keys are named `convos-<environment>-agent-<instanceId>`, which
// lets `sweep` find keys of THIS environment whose instance is gone (upstream leaked keys when the hash was lost on
// restart), and never touch another deployment's keys that share the same management key.
// Creating a key is not idempotent and its secret is shown only once: after a timeout, a 5xx or an unreadable answer
// the key may exist but can never be used, so the pool deletes every key of that name before creating again.

/** `convos-<environment>-agent-`: the start of every key name of one environment. */
export const keyNamePrefix = (environment: string) => `${resourcePrefix(environment)}agent-`
export const keyName = (environment: string, instanceId: string) => `${keyNamePrefix(environment)}${instanceId}`

// Instance ids are UUIDs (PoolLive). The sweep takes a key as this environment's only when the rest of its name is one:
// with environments "staging" and "staging-agent", `convos-staging-agent-agent-<uuid>` starts with staging's prefix,
// but "agent-<uuid>" is no instance id, so staging leaves it alone.
const INSTANCE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** The instance id a key name of `environment` carries; null for any other name (another environment, a person's key). */
export const instanceIdOfKey = (environment: string, name: string): string | null => {
  const prefix = keyNamePrefix(environment)
  if (!name.startsWith(prefix)) return null
  const id = name.slice(prefix.length)
  return INSTANCE_ID.test(id) ? id : null
}

const KeyInfo = Schema.Struct({
  hash: Schema.String,
  name: Schema.String,
  limit: Schema.NullOr(Schema.Number),
  usage: Schema.Number,
  limit_remaining: Schema.optional(Schema.NullOr(Schema.Number)),
  limit_reset: Schema.optional(Schema.NullOr(Schema.String)),
  usage_daily: Schema.optional(Schema.Number),
  usage_weekly: Schema.optional(Schema.Number),
  usage_monthly: Schema.optional(Schema.Number),
  disabled: Schema.optional(Schema.Boolean),
  created_at: Schema.optional(Schema.NullOr(Schema.String)),
})
const Created = Schema.Struct({ key: Schema.String, data: KeyInfo })
const One = Schema.Struct({ data: KeyInfo })
const Page = Schema.Struct({ data: Schema.Array(KeyInfo) })

/** Default most one top-up may add to a key's cap (OPENROUTER_TOPUP_MAX). */
export const DEFAULT_TOPUP_MAX = 100

/**
 * A top-up amount: a number of USD above 0, in whole cents, at most `max`. Checked before any provider call, so a bad
 * amount never reaches OpenRouter.
 */
export const checkTopUpAmount = (amountUsd: unknown, max: number): Effect.Effect<number, InvalidRequest> => {
  const bad = (why: string) => Effect.fail(new InvalidRequest({ field: "amountUsd", message: `amountUsd ${why}` }))
  if (typeof amountUsd !== "number" || !Number.isFinite(amountUsd))
    return bad(`must be a number of USD (e.g. 5 or 12.50).`)
  if (amountUsd <= 0) return bad(`must be more than 0 (got ${amountUsd}).`)
  if (amountUsd > max) return bad(`must be at most ${max} USD per top-up (OPENROUTER_TOPUP_MAX); got ${amountUsd}.`)
  if (Math.abs(amountUsd * 100 - Math.round(amountUsd * 100)) > 1e-6)
    return bad(`must be in whole cents (at most 2 decimals); got ${amountUsd}.`)
  return Effect.succeed(amountUsd)
}

/** A top-up worked out against the key's current limit (OpenRouter.planTopUp). */
export interface TopUpPlan {
  readonly before: number
  readonly limit: number
}

export interface KeyUsage {
  readonly hash: string
  readonly name: string
  readonly limit: number | null
  /** All-time USD spent on the key. */
  readonly usage: number
  /** When the limit resets ("daily" | "weekly" | "monthly"); null when it never does. */
  readonly limitReset: string | null
  /** USD spent in the limit's current period: what counts against `limit` (all-time when it never resets). */
  readonly periodUsage: number
}

export class OpenRouter extends Context.Service<
  OpenRouter,
  {
    readonly configured: boolean
    /** Creates the agent's key; `key` is the secret (runtime env only), `hash` its public id. */
    readonly createKey: (
      instanceId: string,
    ) => Effect.Effect<
      { readonly hash: string; readonly key: Redacted.Redacted<string> },
      ProviderError | NotConfigured
    >
    /** Most one top-up may add (USD, OPENROUTER_TOPUP_MAX). */
    readonly topUpMax: number
    /**
     * What raising the key's spend limit by `amountUsd` (checked: > 0, whole cents, ≤ topUpMax) means now: its limit
     * and the new one. Reads only. An uncapped key is refused (a "top-up" would cap it).
     */
    readonly planTopUp: (
      hash: string,
      amountUsd: number,
    ) => Effect.Effect<TopUpPlan, ProviderError | NotConfigured | InvalidRequest | ResourceConflict>
    /** Sets the key's absolute spend limit (sending it twice is sending it once). */
    readonly setLimit: (hash: string, limitUsd: number) => Effect.Effect<void, ProviderError | NotConfigured>
    /**
     * planTopUp then setLimit; returns the new limit. Not serialized: two at once on one key lose one, so the pool tops
     * up only through AgentResources.topUp (per-agent database lock, journal).
     */
    readonly topUp: (
      hash: string,
      amountUsd: number,
    ) => Effect.Effect<number, ProviderError | NotConfigured | InvalidRequest | ResourceConflict>
    /** Deletes the key; an unknown key counts as deleted. */
    readonly deleteKey: (hash: string) => Effect.Effect<void, ProviderError | NotConfigured>
    readonly usage: (hash: string) => Effect.Effect<KeyUsage, ProviderError | NotConfigured>
    /**
     * Deletes this environment's keys (enabled or disabled) whose instance id is not in `liveIds` and that were created
     * inside `window` (see SweepWindow); returns the deleted key names.
     */
    readonly sweep: (
      liveIds: ReadonlySet<string>,
      window: SweepWindow,
    ) => Effect.Effect<ReadonlyArray<string>, ProviderError | NotConfigured>
  }
>()("pool-core/providers/openrouter/OpenRouter") {}

/**
 * Which keys a sweep may delete, by creation time (epoch ms): only keys created after `createdAfter` (the birth of the
 * database that decides what is live: an older key belongs to a deployment this database never knew) and before
 * `createdBefore` (now minus a grace period: a key being created and recorded right now is left alone). A key whose
 * creation time OpenRouter does not give is kept.
 */
export interface SweepWindow {
  readonly createdAfter: number
  readonly createdBefore: number
}

export interface OpenRouterSettings {
  readonly managementKey: Redacted.Redacted<string>
  /** POOL_ENVIRONMENT: in every key name, and the only keys `sweep` looks at. */
  readonly environment: string
  readonly baseUrl: string
  readonly keyLimit: number
  readonly limitReset: string
  /** Default DEFAULT_TOPUP_MAX. */
  readonly topUpMax?: number
  readonly http?: Partial<ProviderHttpOptions>
}

// A limit that resets caps only the current period's spend, and OpenRouter's usage_daily/weekly/monthly windows are
// the reset windows: all-time `usage` would overstate what an agent has left after its first month.
const periodUsage = (k: typeof KeyInfo.Type) =>
  (k.limit_reset === "daily"
    ? k.usage_daily
    : k.limit_reset === "weekly"
      ? k.usage_weekly
      : k.limit_reset === "monthly"
        ? k.usage_monthly
        : undefined) ?? k.usage

const toUsage = (k: typeof KeyInfo.Type): KeyUsage => ({
  hash: k.hash,
  name: k.name,
  limit: k.limit,
  usage: k.usage,
  limitReset: k.limit_reset || null,
  periodUsage: periodUsage(k),
})

export const openRouterLive = (settings: OpenRouterSettings) =>
  Layer.sync(OpenRouter, () => {
    const http = makeProviderHttp({
      provider: "openrouter",
      baseUrl: settings.baseUrl,
      headers: { authorization: Redacted.make(`Bearer ${Redacted.value(settings.managementKey)}`) },
      ...settings.http,
    })
    const get = (hash: string) =>
      http
        .json({ operation: "read key", method: "GET", path: `api/v1/keys/${encodeURIComponent(hash)}` }, One)
        .pipe(Effect.map((r) => r.data))

    const listAll = Effect.gen(function* () {
      const all: Array<typeof KeyInfo.Type> = []
      for (let offset = 0; offset < 100_000; ) {
        // Disabled keys too: a key disabled by hand still belongs to someone, and an orphan stays an orphan.
        const page = yield* http.json(
          { operation: "list keys", method: "GET", path: `api/v1/keys?include_disabled=true&offset=${offset}` },
          Page,
        )
        if (page.data.length === 0) break
        all.push(...page.data)
        offset += page.data.length
      }
      return all
    })

    const deleteKey = (hash: string) =>
      http
        .request({
          operation: "delete key",
          method: "DELETE",
          path: `api/v1/keys/${encodeURIComponent(hash)}`,
          okStatuses: [404],
        })
        .pipe(Effect.asVoid)

    const createOnce = (instanceId: string) =>
      http
        .json(
          {
            operation: "create key",
            method: "POST",
            path: "api/v1/keys",
            body: {
              name: keyName(settings.environment, instanceId),
              limit: settings.keyLimit,
              limit_reset: settings.limitReset,
            },
          },
          Created,
        )
        .pipe(Effect.map((r) => ({ hash: r.data.hash, key: Redacted.make(r.key) })))

    /** Deletes every key named for the instance: ones an earlier create made but whose secret never arrived. */
    const deleteNamed = (instanceId: string) =>
      listAll.pipe(
        Effect.flatMap((all) =>
          Effect.forEach(
            all.filter((k) => k.name === keyName(settings.environment, instanceId)),
            (k) => deleteKey(k.hash),
            { discard: true },
          ),
        ),
      )

    const createKey = (instanceId: string) =>
      Effect.gen(function* () {
        for (let attempt = 1; ; attempt++) {
          const made = yield* Effect.result(createOnce(instanceId))
          if (made._tag === "Success") return made.success
          const e = made.failure
          const uncertain = mayHaveHappened(e) || /unexpected shape|not JSON/.test(e.message)
          if (!uncertain) return yield* Effect.fail(e)
          // The key may exist: remove it (a key whose secret we never saw is useless and would leak spend).
          yield* deleteNamed(instanceId).pipe(Effect.mapError(() => e))
          if (attempt >= 3 || !mayHaveHappened(e)) return yield* Effect.fail(e)
        }
      })

    const topUpMax = settings.topUpMax ?? DEFAULT_TOPUP_MAX
    const planTopUp = (hash: string, amountUsd: number) =>
      Effect.gen(function* () {
        yield* checkTopUpAmount(amountUsd, topUpMax)
        const current = yield* get(hash)
        if (current.limit === null) {
          const prefix = keyNamePrefix(settings.environment)
          const instanceId = current.name.startsWith(prefix) ? current.name.slice(prefix.length) : hash
          return yield* new ResourceConflict({
            instanceId,
            provider: "openrouter",
            message: "This agent's OpenRouter key has no spending cap, so there is nothing to raise.",
          })
        }
        // Rounded to micro-dollars: 20.1 + 0.2 must be 20.3, not 20.300000000000001.
        return { before: current.limit, limit: Math.round((current.limit + amountUsd) * 1e6) / 1e6 }
      })
    const setLimit = (hash: string, limit: number) =>
      http
        .request({
          operation: "top up key",
          method: "PATCH",
          path: `api/v1/keys/${encodeURIComponent(hash)}`,
          body: { limit },
          idempotent: true,
        })
        .pipe(Effect.asVoid)
    return OpenRouter.of({
      configured: true,
      createKey,
      topUpMax,
      planTopUp,
      setLimit,
      topUp: (hash, amountUsd) =>
        planTopUp(hash, amountUsd).pipe(
          Effect.tap((plan) => setLimit(hash, plan.limit)),
          Effect.map((plan) => plan.limit),
        ),
      deleteKey,
      usage: (hash) => get(hash).pipe(Effect.map(toUsage)),
      sweep: (liveIds, window) =>
        Effect.gen(function* () {
          const inWindow = (k: typeof KeyInfo.Type) => {
            const created = k.created_at ? Date.parse(k.created_at) : Number.NaN
            return Number.isFinite(created) && created > window.createdAfter && created < window.createdBefore
          }
          const orphans = (yield* listAll).filter((k) => {
            const id = instanceIdOfKey(settings.environment, k.name)
            return id !== null && !liveIds.has(id) && inWindow(k)
          })
          yield* Effect.forEach(orphans, (k) => deleteKey(k.hash), { concurrency: 4, discard: true })
          if (orphans.length > 0) yield* Effect.logInfo(`openrouter: swept ${orphans.length} orphan key(s)`)
          return orphans.map((k) => k.name)
        }),
    })
  })

const notConfigured = Effect.fail(NotConfigured.create("OpenRouter", "OPENROUTER_MANAGEMENT_KEY"))

const disabled = (topUpMax: number) =>
  Layer.succeed(OpenRouter, {
    configured: false,
    topUpMax,
    createKey: () => notConfigured,
    planTopUp: () => notConfigured,
    setLimit: () => notConfigured,
    topUp: () => notConfigured,
    deleteKey: () => notConfigured,
    usage: () => notConfigured,
    sweep: () => notConfigured,
  })

export const openRouterDisabled = disabled(DEFAULT_TOPUP_MAX)

/** OPENROUTER_TOPUP_MAX: a positive number of USD (default 100); anything else stops the start, naming the variable. */
export const topUpMaxConfig = readConfig(stringOr("OPENROUTER_TOPUP_MAX", String(DEFAULT_TOPUP_MAX))).pipe(
  Effect.flatMap((raw) => {
    const n = Number(raw.trim())
    return raw.trim() !== "" && Number.isFinite(n) && n > 0
      ? Effect.succeed(n)
      : Effect.fail(
          new InvalidConfig({
            variable: "OPENROUTER_TOPUP_MAX",
            message: `OPENROUTER_TOPUP_MAX must be a positive number of USD (default ${DEFAULT_TOPUP_MAX}); got "${raw.slice(0, 40)}". See .env.example.`,
          }),
        )
  }),
)

/** Live when OPENROUTER_MANAGEMENT_KEY is set, disabled otherwise. */
export const openRouterLayerFromEnv = Layer.unwrap(
  Effect.gen(function* () {
    const key = yield* readConfig(optionalSecret("OPENROUTER_MANAGEMENT_KEY"))
    // Checked with or without a management key, so a bad value is caught before the day it is needed.
    const topUpMax = yield* topUpMaxConfig
    if (Option.isNone(key)) return disabled(topUpMax)
    // The runtime reads the same variable as its OpenAI-compatible endpoint (…/api/v1): accept both spellings.
    const baseUrl = (yield* readConfig(stringOr("OPENROUTER_BASE_URL", "https://openrouter.ai"))).replace(
      /\/api\/v1\/?$/,
      "",
    )
    const keyLimit = Number(yield* readConfig(stringOr("OPENROUTER_KEY_LIMIT", "20")))
    const limitReset = (yield* readConfig(stringOr("OPENROUTER_KEY_LIMIT_RESET", "monthly"))).trim()
    // OpenRouter takes daily, weekly or monthly (or no reset): anything else would fail every key create.
    if (!["daily", "weekly", "monthly"].includes(limitReset))
      return yield* new InvalidConfig({
        variable: "OPENROUTER_KEY_LIMIT_RESET",
        message: `OPENROUTER_KEY_LIMIT_RESET must be daily, weekly or monthly (default monthly); got "${limitReset.slice(0, 40)}".`,
      })
    if (!Number.isFinite(keyLimit) || keyLimit <= 0)
      return yield* new InvalidConfig({
        variable: "OPENROUTER_KEY_LIMIT",
        message: "OPENROUTER_KEY_LIMIT must be a positive number of USD (default 20).",
      })
    const environment = yield* providerEnvironment
    return openRouterLive({ managementKey: key.value, environment, baseUrl, keyLimit, limitReset, topUpMax })
  }),
)
