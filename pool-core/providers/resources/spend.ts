import { Duration, Effect, Option } from "effect"
import type { Instance } from "../../domain/instance.ts"
import { AgentResources } from "../AgentResources.ts"
import { OpenRouter } from "../openrouter/OpenRouter.ts"
import { openRouterUsageOf } from "./maintenance.ts"

// Per-agent OpenRouter spend for listings (admin API and page, the bot's /agents). It costs one provider call per
// agent, so: bounded concurrency, one deadline for the whole listing, and a failure for one key makes that one agent
// "unavailable" instead of failing the listing. Never shown on public reads: spend says who runs up costs.

export interface Spend {
  /** USD spent in the limit's current period (this month with the default monthly limit). */
  readonly usedUsd: number
  /** The key's spend cap in USD; null when uncapped. */
  readonly limitUsd: number | null
  /** When the cap resets ("monthly" …); null when it never does. */
  readonly limitReset: string | null
}

/** null: the agent has no key, or OpenRouter is not configured; "unavailable": OpenRouter did not answer in time. */
export type SpendLookup = Spend | "unavailable" | null

export interface SpendOptions {
  /** Provider calls in flight at once (default 8: enough for a page, gentle on OpenRouter's rate limit). */
  readonly concurrency?: number
  /** Whole-listing budget (default 5 s); lookups not done by then are "unavailable". */
  readonly deadline?: Duration.Input
}

export type SpendOf = (
  instanceIds: ReadonlyArray<string>,
  options?: SpendOptions,
) => Effect.Effect<ReadonlyMap<string, SpendLookup>>

/**
 * A spend lookup bound to the OpenRouter and AgentResources services present now. Both are optional: a runtime built
 * without them (tests, a pool without providers) lists every agent with spend null rather than failing.
 */
export const makeSpendOf: Effect.Effect<SpendOf> = Effect.gen(function* () {
  const openRouter = yield* Effect.serviceOption(OpenRouter)
  const resources = yield* Effect.serviceOption(AgentResources)
  return (instanceIds, options = {}) =>
    Effect.gen(function* () {
      if (Option.isNone(openRouter) || !openRouter.value.configured || Option.isNone(resources)) {
        return new Map(instanceIds.map((id) => [id, null]))
      }
      // Filled as answers arrive, so whatever the deadline cuts off stays "unavailable".
      const out = new Map<string, SpendLookup>(instanceIds.map((id) => [id, "unavailable"]))
      const failures: Array<string> = []
      const one = (id: string) =>
        openRouterUsageOf(id).pipe(
          Effect.provideService(OpenRouter, openRouter.value),
          Effect.provideService(AgentResources, resources.value),
          Effect.map(
            (u): SpendLookup =>
              u === null ? null : { usedUsd: u.periodUsage, limitUsd: u.limit, limitReset: u.limitReset },
          ),
          Effect.catch((e) =>
            Effect.sync((): SpendLookup => {
              failures.push(`${id}: ${e.message}`)
              return "unavailable"
            }),
          ),
          Effect.tap((s) => Effect.sync(() => void out.set(id, s))),
        )
      const done = yield* Effect.forEach(instanceIds, one, {
        concurrency: options.concurrency ?? 8,
        discard: true,
      }).pipe(Effect.timeoutOption(options.deadline ?? Duration.seconds(5)))
      if (failures.length > 0)
        yield* Effect.logWarning(
          `openrouter: spend unavailable for ${failures.length} agent(s): ${failures.slice(0, 3).join("; ")}`,
        )
      if (Option.isNone(done))
        yield* Effect.logWarning(
          `openrouter: spend lookups for ${instanceIds.length} agent(s) hit the deadline; the rest show as unavailable`,
        )
      return out
    })
})

/** Spend of each instance, with the services of the calling runtime. */
export const spendOf: SpendOf = (instanceIds, options) =>
  Effect.flatMap(makeSpendOf, (lookup) => lookup(instanceIds, options))

/** Instances that hold a key someone is spending on: claimed ones, and crashed ones until dismissed. */
export const spendingInstances = (instances: ReadonlyArray<Instance>) =>
  instances.filter((i) => i.status === "claimed" || i.status === "crashed").map((i) => i.id)

export const usd = (amount: number) => `$${amount.toFixed(2)}`

/** For tables: "$1.23 / $20.00", "—" without a key, "unavailable" when OpenRouter did not answer. */
export const spendText = (s: SpendLookup) =>
  s === null
    ? "—"
    : s === "unavailable"
      ? "unavailable"
      : `${usd(s.usedUsd)} / ${s.limitUsd === null ? "no limit" : usd(s.limitUsd)}`
