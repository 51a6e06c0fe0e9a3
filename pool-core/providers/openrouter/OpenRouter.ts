import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { NotConfigured, type ProviderError } from "../../domain/errors.ts"
import { optionalSecret, readConfig, stringOr } from "../http/env.ts"
import { makeProviderHttp, mayHaveHappened, type ProviderHttpOptions } from "../http/ProviderHttp.ts"

// Per-agent OpenRouter keys through the provisioning-key API: each agent gets its own key with a monthly spend cap,
// so one chatty agent cannot drain the org's credits. Keys are named `convos-agent-<instanceId>`, which lets `sweep`
// find keys whose instance is gone (upstream leaked keys when the hash was lost on restart).
// Creating a key is not idempotent and its secret is shown only once: after a timeout, a 5xx or an unreadable answer
// the key may exist but can never be used, so the pool deletes every key of that name before creating again.

export const keyNamePrefix = "convos-agent-"
export const keyName = (instanceId: string) => `${keyNamePrefix}${instanceId}`

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
})
const Created = Schema.Struct({ key: Schema.String, data: KeyInfo })
const One = Schema.Struct({ data: KeyInfo })
const Page = Schema.Struct({ data: Schema.Array(KeyInfo) })

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

export class OpenRouter extends Context.Service<OpenRouter, {
  readonly configured: boolean
  /** Creates the agent's key; `key` is the secret (runtime env only), `hash` its public id. */
  readonly createKey: (instanceId: string) => Effect.Effect<{ readonly hash: string; readonly key: Redacted.Redacted<string> }, ProviderError | NotConfigured>
  /** Raises the key's spend limit by `amountUsd`; returns the new limit. */
  readonly topUp: (hash: string, amountUsd: number) => Effect.Effect<number, ProviderError | NotConfigured>
  /** Deletes the key; an unknown key counts as deleted. */
  readonly deleteKey: (hash: string) => Effect.Effect<void, ProviderError | NotConfigured>
  readonly usage: (hash: string) => Effect.Effect<KeyUsage, ProviderError | NotConfigured>
  /** Deletes every `convos-agent-*` key whose instance id is not in `liveIds`; returns the deleted key names. */
  readonly sweep: (liveIds: ReadonlySet<string>) => Effect.Effect<ReadonlyArray<string>, ProviderError | NotConfigured>
}>()("pool-core/providers/openrouter/OpenRouter") {}

export interface OpenRouterSettings {
  readonly managementKey: Redacted.Redacted<string>
  readonly baseUrl: string
  readonly keyLimit: number
  readonly limitReset: string
  readonly http?: Partial<ProviderHttpOptions>
}

// A limit that resets caps only the current period's spend, and OpenRouter's usage_daily/weekly/monthly windows are
// the reset windows: all-time `usage` would overstate what an agent has left after its first month.
const periodUsage = (k: typeof KeyInfo.Type) =>
  (k.limit_reset === "daily" ? k.usage_daily : k.limit_reset === "weekly" ? k.usage_weekly : k.limit_reset === "monthly" ? k.usage_monthly : undefined) ?? k.usage

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
      http.json({ operation: "read key", method: "GET", path: `api/v1/keys/${encodeURIComponent(hash)}` }, One).pipe(Effect.map((r) => r.data))

    const listAll = Effect.gen(function* () {
      const all: Array<typeof KeyInfo.Type> = []
      for (let offset = 0; offset < 100_000; ) {
        const page = yield* http.json({ operation: "list keys", method: "GET", path: `api/v1/keys?offset=${offset}` }, Page)
        if (page.data.length === 0) break
        all.push(...page.data)
        offset += page.data.length
      }
      return all
    })

    const deleteKey = (hash: string) =>
      http.request({ operation: "delete key", method: "DELETE", path: `api/v1/keys/${encodeURIComponent(hash)}`, okStatuses: [404] }).pipe(Effect.asVoid)

    const createOnce = (instanceId: string) =>
      http
        .json(
          { operation: "create key", method: "POST", path: "api/v1/keys", body: { name: keyName(instanceId), limit: settings.keyLimit, limit_reset: settings.limitReset } },
          Created
        )
        .pipe(Effect.map((r) => ({ hash: r.data.hash, key: Redacted.make(r.key) })))

    /** Deletes every key named for the instance: ones an earlier create made but whose secret never arrived. */
    const deleteNamed = (instanceId: string) =>
      listAll.pipe(
        Effect.flatMap((all) => Effect.forEach(all.filter((k) => k.name === keyName(instanceId)), (k) => deleteKey(k.hash), { discard: true }))
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

    return OpenRouter.of({
      configured: true,
      createKey,
      topUp: (hash, amountUsd) =>
        Effect.gen(function* () {
          const current = yield* get(hash)
          const limit = (current.limit ?? 0) + amountUsd
          // Sets an absolute limit: sending it twice is sending it once.
          yield* http.request({ operation: "top up key", method: "PATCH", path: `api/v1/keys/${encodeURIComponent(hash)}`, body: { limit }, idempotent: true })
          return limit
        }),
      deleteKey,
      usage: (hash) => get(hash).pipe(Effect.map(toUsage)),
      sweep: (liveIds) =>
        Effect.gen(function* () {
          const orphans = (yield* listAll).filter((k) => k.name.startsWith(keyNamePrefix) && !liveIds.has(k.name.slice(keyNamePrefix.length)))
          yield* Effect.forEach(orphans, (k) => deleteKey(k.hash), { concurrency: 4, discard: true })
          if (orphans.length > 0) yield* Effect.logInfo(`openrouter: swept ${orphans.length} orphan key(s)`)
          return orphans.map((k) => k.name)
        }),
    })
  })

const notConfigured = Effect.fail(NotConfigured.create("OpenRouter", "OPENROUTER_MANAGEMENT_KEY"))

export const openRouterDisabled = Layer.succeed(OpenRouter, {
  configured: false,
  createKey: () => notConfigured,
  topUp: () => notConfigured,
  deleteKey: () => notConfigured,
  usage: () => notConfigured,
  sweep: () => notConfigured,
})

/** Live when OPENROUTER_MANAGEMENT_KEY is set, disabled otherwise. */
export const openRouterLayerFromEnv = Layer.unwrap(
  Effect.gen(function* () {
    const key = yield* readConfig(optionalSecret("OPENROUTER_MANAGEMENT_KEY"))
    if (Option.isNone(key)) return openRouterDisabled
    // The runtime reads the same variable as its OpenAI-compatible endpoint (…/api/v1): accept both spellings.
    const baseUrl = (yield* readConfig(stringOr("OPENROUTER_BASE_URL", "https://openrouter.ai"))).replace(/\/api\/v1\/?$/, "")
    const keyLimit = Number(yield* readConfig(stringOr("OPENROUTER_KEY_LIMIT", "20")))
    const limitReset = yield* readConfig(stringOr("OPENROUTER_KEY_LIMIT_RESET", "monthly"))
    if (!Number.isFinite(keyLimit) || keyLimit <= 0) return yield* Effect.die(new Error("OPENROUTER_KEY_LIMIT must be a positive number of USD (default 20)."))
    return openRouterLive({ managementKey: key.value, baseUrl, keyLimit, limitReset })
  })
)
