import { Clock, Effect } from "effect"
import type { Instance, InstanceStatus } from "../../domain/instance.ts"
import { Pool } from "../../pool/Pool.ts"

// GET /api/pool/agents: every live instance grouped by status, as the seed lists them ({claimed, crashed, idle,
// starting}). Anyone may read it, so each entry has public fields only: no invite URL (whoever holds it can talk to
// the agent), no conversation, owner, instructions, URL, token hash or error text. The full rows are behind the key
// (GET /api/pool/instances).

export const LISTED_STATUSES = [
  "claimed",
  "crashed",
  "idle",
  "starting",
] as const satisfies ReadonlyArray<InstanceStatus>
type ListedStatus = (typeof LISTED_STATUSES)[number]

export interface PublicAgent {
  readonly id: string
  readonly status: ListedStatus
  readonly name: string | null
  readonly template: string | null
  /** Whole seconds since the instance was created. */
  readonly ageSeconds: number
}

export type AgentsByStatus = Record<ListedStatus, ReadonlyArray<PublicAgent>>

/** The most instances one listing returns (a pool is a few dozen; this bounds a runaway). */
export const LISTING_LIMIT = 2_000

const publicAgent = (i: Instance, now: number): PublicAgent => ({
  id: i.id,
  status: i.status as ListedStatus,
  name: i.agentName,
  template: i.templateSlug,
  ageSeconds: Math.max(0, Math.floor((now - i.createdAt.getTime()) / 1000)),
})

export const agentsByStatus = Effect.gen(function* () {
  const pool = yield* Pool
  const all = yield* pool.list({ status: LISTED_STATUSES, limit: LISTING_LIMIT })
  const now = yield* Clock.currentTimeMillis
  const grouped = Object.fromEntries(LISTED_STATUSES.map((s) => [s, [] as PublicAgent[]])) as Record<
    ListedStatus,
    PublicAgent[]
  >
  for (const i of all) grouped[i.status as ListedStatus]?.push(publicAgent(i, now))
  return grouped as AgentsByStatus
})
