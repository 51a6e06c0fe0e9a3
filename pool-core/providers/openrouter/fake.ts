import { readFileSync } from "node:fs"
import { checkedByContract, type OpenApiDocument, openApiContract, type Violation } from "../http/openapi.ts"
import type { RecordedRequest, Reply } from "../http/testing.ts"

// Loopback stand-in for the provider API (tests only): answers like the real one, checks auth on every request, and
// checks every request (and its own answers) against OpenRouter's published API reference (./openapi.json).

export const openRouterReference = JSON.parse(
  readFileSync(new URL("./openapi.json", import.meta.url), "utf8"),
) as OpenApiDocument
const contract = openApiContract(openRouterReference)

/** OpenRouter's error answers: `{ error: { code, message } }`. */
const refuse = (v: Violation): Reply => {
  const status = v.kind === "unknown path" ? 404 : v.kind === "method not allowed" ? 405 : 400
  return { status, json: { error: { code: status, message: v.message } } }
}

export const managementKey = "sk-or-mgmt-secret-abcdef"

export interface FakeKey {
  hash: string
  name: string
  limit: number | null
  /** All-time USD spent. */
  usage: number
  limit_reset: string | null
  /** USD spent in the current reset period; the whole `usage` when unset (a key younger than one period). */
  periodUsage?: number
  /** ISO 8601; the moment it was created in the fake unless a test backdates it. */
  created_at?: string
  disabled?: boolean
}

/** A key as GET /api/v1/keys/:hash shows it: with the per-period usage and what is left of the limit. */
const view = (k: FakeKey) => {
  const period = k.periodUsage ?? k.usage
  const { periodUsage: _, ...rest } = k
  return {
    ...rest,
    label: `sk-or-v1-${k.hash.slice(0, 3)}...${k.hash.slice(-4)}`,
    disabled: k.disabled ?? false,
    include_byok_in_limit: false,
    byok_usage: 0,
    byok_usage_daily: 0,
    byok_usage_weekly: 0,
    byok_usage_monthly: 0,
    created_at: k.created_at ?? new Date(0).toISOString(),
    updated_at: null,
    creator_user_id: null,
    workspace_id: "0df9e665-d932-5740-b2c7-b52af166bc11",
    usage_daily: period,
    usage_weekly: period,
    usage_monthly: period,
    limit_remaining: k.limit === null ? null : Math.max(0, k.limit - period),
  }
}

/** A small OpenRouter keys API: checks auth on every request, keeps keys in memory. */
export const openRouterApi = () => {
  const keys = new Map<string, FakeKey>()
  /** What the agent behind a key has spent (the real API counts it from the model calls made with the key). */
  const setUsage = (hash: string, usage: { total: number; thisPeriod?: number }) => {
    const key = keys.get(hash)
    if (!key) throw new Error(`fake OpenRouter: no key ${hash} (keys: ${[...keys.keys()].join(", ") || "none"})`)
    key.usage = usage.total
    key.periodUsage = usage.thisPeriod ?? usage.total
  }
  let next = 0
  const handle = (r: RecordedRequest): Reply => {
    if (r.headers.authorization !== `Bearer ${managementKey}`)
      return { status: 401, json: { error: { message: "No auth" } } }
    const path = r.path.split("?")[0]
    if (r.method === "POST" && path === "/api/v1/keys") {
      const b = r.body as { name: string; limit?: number | null; limit_reset?: string | null }
      const hash = `hash-${++next}`
      keys.set(hash, {
        hash,
        name: b.name,
        limit: b.limit ?? null,
        usage: 0,
        limit_reset: b.limit_reset ?? null,
        created_at: new Date().toISOString(),
      })
      return { status: 201, json: { key: `sk-or-v1-secret-${next}`, data: view(keys.get(hash)!) } }
    }
    if (r.method === "GET" && path === "/api/v1/keys") {
      const query = new URL(r.path, "http://x").searchParams
      const offset = Number(query.get("offset") ?? 0)
      // Like the real API: disabled keys are listed only with include_disabled=true.
      const listed = [...keys.values()].filter((k) => query.get("include_disabled") === "true" || !k.disabled)
      return { json: { data: listed.slice(offset, offset + 2).map(view) } } // pages of 2 to exercise paging
    }
    const m = /^\/api\/v1\/keys\/([^/]+)$/.exec(path)
    const key = m ? keys.get(m[1]) : undefined
    if (m && !key) return { status: 404, json: { error: { message: "Key not found" } } }
    if (key && r.method === "GET") return { json: { data: view(key) } }
    if (key && r.method === "PATCH") {
      key.limit = (r.body as { limit: number }).limit
      return { json: { data: view(key) } }
    }
    if (key && r.method === "DELETE") {
      keys.delete(key.hash)
      return { json: { deleted: true } }
    }
    return { status: 404, json: { error: { message: `no route ${r.method} ${r.path}` } } }
  }
  const checked = checkedByContract(contract, refuse, handle)
  return { keys, setUsage, handle: checked.handle, violations: checked.violations }
}
