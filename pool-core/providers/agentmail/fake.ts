import { readFileSync } from "node:fs"
import { checkedByContract, type OpenApiDocument, openApiContract, type Violation } from "../http/openapi.ts"
import type { RecordedRequest, Reply } from "../http/testing.ts"

// Loopback stand-in for the provider API (tests only): answers like the real one, checks auth on every request, and
// checks every request (and its own answers) against AgentMail's published API reference (./openapi.json).

export const agentMailReference = JSON.parse(
  readFileSync(new URL("./openapi.json", import.meta.url), "utf8"),
) as OpenApiDocument
const contract = openApiContract(agentMailReference)

/** AgentMail's error answers: `{ name, message }` (400 ValidationError with the `errors`). */
const refuse = (v: Violation): Reply =>
  v.kind === "invalid request"
    ? { status: 400, json: { name: "ValidationError", errors: v.message.split("; ") } }
    : {
        status: v.kind === "unknown path" ? 404 : 405,
        json: { name: v.kind === "unknown path" ? "NotFoundError" : "MethodNotAllowedError", message: v.message },
      }

const POD_ID = "pod-0b6a3d2e"

export const apiKey = "am_secret_key_123456"

/** AgentMail inboxes API: auth checked on every request; client_id makes create idempotent like the real API. */
export const agentMailApi = () => {
  const inboxes = new Map<
    string,
    {
      pod_id: string
      inbox_id: string
      client_id: string | null
      display_name: string | null
      created_at: string
      updated_at: string
    }
  >()
  /** Inbox-scoped API keys (secret → inbox id); they end with their inbox. */
  const keys = new Map<string, string>()
  let nextKey = 0
  const handle = (r: RecordedRequest): Reply => {
    if (r.headers.authorization !== `Bearer ${apiKey}`) return { status: 401, json: { name: "UnauthorizedError" } }
    const keyRoute = /^\/v0\/inboxes\/([^/]+)\/api-keys$/.exec(r.path)
    if (r.method === "POST" && keyRoute) {
      const inboxId = decodeURIComponent(keyRoute[1])
      if (!inboxes.has(inboxId)) return { status: 404, json: { name: "NotFoundError", message: "Inbox not found" } }
      const secret = `am_inbox_secret_${++nextKey}`
      keys.set(secret, inboxId)
      return {
        json: {
          api_key_id: `key-${nextKey}`,
          api_key: secret,
          prefix: "am_inbox",
          name: (r.body as { name?: string })?.name ?? "",
          created_at: new Date().toISOString(),
          inbox_id: inboxId,
        },
      }
    }
    if (r.method === "POST" && r.path === "/v0/inboxes") {
      const b = (r.body ?? {}) as {
        username?: string | null
        domain?: string | null
        display_name?: string | null
        client_id?: string | null
      }
      const existing = b.client_id ? [...inboxes.values()].find((i) => i.client_id === b.client_id) : undefined
      if (existing) return { json: existing }
      const now = new Date().toISOString()
      const username = b.username ?? `inbox${inboxes.size + 1}`
      if (username.length > 64)
        return {
          status: 400,
          json: { name: "ValidationError", errors: ["username is longer than an address allows (64)"] },
        }
      const inbox = {
        pod_id: POD_ID,
        inbox_id: `${username}@${b.domain ?? "agentmail.to"}`,
        client_id: b.client_id ?? null,
        display_name: b.display_name ?? null,
        created_at: now,
        updated_at: now,
      }
      inboxes.set(inbox.inbox_id, inbox)
      return { json: inbox }
    }
    const m = /^\/v0\/inboxes\/(.+)$/.exec(r.path)
    if (r.method === "DELETE" && m) {
      const id = decodeURIComponent(m[1])
      for (const [k, inbox] of keys) if (inbox === id) keys.delete(k)
      return inboxes.delete(id)
        ? { status: 204 }
        : { status: 404, json: { name: "NotFoundError", message: "Inbox not found" } }
    }
    return { status: 404, json: { name: "NotFoundError" } }
  }
  const checked = checkedByContract(contract, refuse, handle)
  return { inboxes, keys, handle: checked.handle, violations: checked.violations }
}
