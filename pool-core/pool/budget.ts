import { Clock, Effect } from "effect"
import type { ComputeProviderName } from "../domain/instance.ts"

// The provider call budget the tick plans against (RAILWAY_CALLS_PER_DAY). Upstream polled Railway for every agent
// every tick and reached 193K calls a day against a 10K account limit; here running agents are checked through their
// own /pool/health (free) and the provider is asked only about starting or unhealthy ones, within this budget.
//
// A token bucket: it holds at most an hour of the daily allowance (so a burst such as replenishing 20 agents fits) and
// refills at perDay / 24 h. Costs are in the provider's own HTTP requests, so the daily figure compares with its limit.

export interface CallCosts {
  /** Requests one create makes (Railway, a project per agent: project, service, volume, domain, patch commit). */
  readonly create: number
  /** Requests one destroy makes (Railway: look the service up, delete its project or service). */
  readonly destroy: number
  /** Refs one status request covers (Railway: 20 projects per aliased query). */
  readonly statusRefsPerRequest: number
}

const costs: Record<ComputeProviderName, CallCosts> = {
  railway: { create: 5, destroy: 2, statusRefsPerRequest: 20 },
  local: { create: 1, destroy: 1, statusRefsPerRequest: 500 },
  // Docker: inspect, volume, create, start, inspect; remove + volume; one list call answers for every agent.
  docker: { create: 5, destroy: 2, statusRefsPerRequest: 10_000 },
  memory: { create: 1, destroy: 1, statusRefsPerRequest: 500 },
}

export const callCosts = (provider: ComputeProviderName): CallCosts => costs[provider]

export const statusCost = (c: CallCosts, refs: number) => (refs === 0 ? 0 : Math.ceil(refs / c.statusRefsPerRequest))

const DAY_MS = 86_400_000

export const makeCallBudget = (perDay: number) =>
  Effect.gen(function* () {
    const capacity = Math.max(1, perDay / 24)
    const perMs = perDay / DAY_MS
    let tokens = capacity
    let at = yield* Clock.currentTimeMillis
    // Every request spent since start, for the pool history (observability/history.ts) and its budget chart.
    let spentTotal = 0
    const refill = Effect.map(Clock.currentTimeMillis, (now) => {
      tokens = Math.min(capacity, tokens + Math.max(0, now - at) * perMs)
      at = now
      return tokens
    })
    return {
      perDay,
      /** Requests that may be spent now. */
      available: Effect.map(refill, Math.floor),
      /** Takes `cost` if that much is left; false (nothing taken) otherwise. */
      take: (cost: number) =>
        Effect.map(refill, (left) => {
          if (left < cost) return false
          tokens -= cost
          spentTotal += cost
          return true
        }),
      /** Records calls that are made regardless (an admin's replenish): the tick then plans with less. */
      spend: (cost: number) =>
        Effect.map(refill, () => {
          tokens -= cost
          spentTotal += cost
        }),
      /** Requests spent since this process started. */
      spent: Effect.sync(() => spentTotal),
    } as const
  })

export type CallBudget = Effect.Success<ReturnType<typeof makeCallBudget>>
