import type { RecordedRequest, Reply } from "../http/testing.ts"

// Loopback stand-in for the provider API (tests only): answers like the real one and checks auth on every request.

export const apiKey = "am_secret_key_123456"

/** AgentMail inboxes API: auth checked on every request; client_id makes create idempotent like the real API. */
export const agentMailApi = () => {
  const inboxes = new Map<string, { inbox_id: string; client_id: string }>()
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
      return { json: { api_key_id: `key-${nextKey}`, api_key: secret, prefix: "am_inbox", name: (r.body as { name?: string })?.name ?? null, inbox_id: inboxId } }
    }
    if (r.method === "POST" && r.path === "/v0/inboxes") {
      const b = r.body as { username: string; domain?: string; display_name: string; client_id: string }
      const existing = [...inboxes.values()].find((i) => i.client_id === b.client_id)
      if (existing) return { json: existing }
      const inbox = { inbox_id: `${b.username}@${b.domain ?? "agentmail.to"}`, client_id: b.client_id }
      inboxes.set(inbox.inbox_id, inbox)
      return { json: inbox }
    }
    const m = /^\/v0\/inboxes\/(.+)$/.exec(r.path)
    if (r.method === "DELETE" && m) {
      const id = decodeURIComponent(m[1])
      for (const [k, inbox] of keys) if (inbox === id) keys.delete(k)
      return inboxes.delete(id) ? { status: 200, json: {} } : { status: 404, json: { name: "NotFoundError" } }
    }
    return { status: 404, json: { name: "NotFoundError" } }
  }
  return { inboxes, keys, handle }
}
