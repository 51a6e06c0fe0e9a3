import { randomUUID } from "node:crypto"
import type { RecordedRequest, Reply } from "../http/testing.ts"
import { apiKey } from "./fake.ts"

// The messages part of the AgentMail stand-in (tests only), wrapped around the inboxes fake: Send Message
// (POST /v0/inboxes/:inbox_id/messages/send), List Messages (GET /v0/inboxes/:inbox_id/messages?limit) and Batch Get
// Messages (POST /v0/inboxes/:inbox_id/messages/batch-get), per https://docs.agentmail.to/api-reference. Each request
// must carry the org key, name an inbox that exists, and send only documented body fields; `deliver` puts a received
// message into an inbox.

export interface FakeMessage {
  readonly inbox_id: string
  readonly thread_id: string
  readonly message_id: string
  readonly labels: ReadonlyArray<string>
  readonly timestamp: string
  readonly from: string
  readonly to: ReadonlyArray<string>
  readonly subject: string
  readonly preview: string
  readonly text: string
}

const sendFields = new Set([
  "labels",
  "reply_to",
  "to",
  "cc",
  "bcc",
  "subject",
  "text",
  "html",
  "attachments",
  "headers",
])

export const withAgentMailMessages = (inboxes: ReadonlyMap<string, unknown>, base: (r: RecordedRequest) => Reply) => {
  const messages: Array<FakeMessage> = []
  const add = (m: Omit<FakeMessage, "thread_id" | "message_id" | "timestamp" | "preview">) => {
    const message: FakeMessage = {
      ...m,
      thread_id: randomUUID(),
      message_id: `<${randomUUID()}@agentmail.to>`,
      timestamp: new Date(Date.now() + messages.length).toISOString(),
      preview: m.text.slice(0, 100),
    }
    messages.push(message)
    return message
  }
  const deliver = (inboxId: string, m: { from: string; subject: string; text: string }) =>
    add({ inbox_id: inboxId, labels: ["received", "unread"], to: [inboxId], ...m })
  const route = /^\/v0\/inboxes\/([^/?]+)\/messages(\/send|\/batch-get)?(?:\?(.*))?$/

  const handle = (r: RecordedRequest): Reply => {
    const m = route.exec(r.path)
    if (!m) return base(r)
    if (r.headers.authorization !== `Bearer ${apiKey}`) return { status: 401, json: { name: "UnauthorizedError" } }
    const inboxId = decodeURIComponent(m[1]!)
    if (!inboxes.has(inboxId)) return { status: 404, json: { name: "NotFoundError", message: "Inbox not found" } }
    const body = r.body as Record<string, unknown> | undefined
    if (r.method === "POST" && m[2] === "/send") {
      if (!body || typeof body !== "object")
        return { status: 400, json: { name: "ValidationError", message: "body required" } }
      const unknown = Object.keys(body).filter((k) => !sendFields.has(k))
      if (unknown.length > 0)
        return { status: 400, json: { name: "ValidationError", message: `unknown fields: ${unknown.join(",")}` } }
      const to = typeof body.to === "string" ? [body.to] : body.to
      if (!Array.isArray(to) || to.length === 0 || to.some((t) => typeof t !== "string" || !t.includes("@")))
        return {
          status: 400,
          json: { name: "ValidationError", message: "to must be an address or a list of addresses" },
        }
      const sent = add({
        inbox_id: inboxId,
        labels: ["sent"],
        from: inboxId,
        to: to as Array<string>,
        subject: String(body.subject ?? ""),
        text: String(body.text ?? ""),
      })
      return { json: { message_id: sent.message_id, thread_id: sent.thread_id } }
    }
    if (r.method === "POST" && m[2] === "/batch-get") {
      const ids = body?.message_ids
      if (!Array.isArray(ids) || Object.keys(body!).some((k) => k !== "message_ids"))
        return { status: 400, json: { name: "ValidationError", message: "message_ids required" } }
      const found = messages.filter((x) => x.inbox_id === inboxId && ids.includes(x.message_id))
      return {
        json: {
          count: found.length,
          messages: found.map((x) => ({ ...x, size: x.text.length, updated_at: x.timestamp, created_at: x.timestamp })),
        },
      }
    }
    if (r.method === "GET" && m[2] === undefined) {
      const query = new URLSearchParams(m[3] ?? "")
      for (const k of query.keys())
        if (!["limit", "page_token", "labels", "before", "after", "ascending", "include_spam"].includes(k))
          return { status: 400, json: { name: "ValidationError", message: `unknown query ${k}` } }
      const limit = Number(query.get("limit") ?? "10")
      if (!Number.isInteger(limit) || limit < 1)
        return { status: 400, json: { name: "ValidationError", message: "limit must be a positive integer" } }
      const mine = messages
        .filter((x) => x.inbox_id === inboxId)
        .reverse()
        .slice(0, limit)
      return {
        json: {
          count: mine.length,
          limit,
          messages: mine.map(({ text: _text, ...x }) => ({
            ...x,
            size: _text.length,
            updated_at: x.timestamp,
            created_at: x.timestamp,
          })),
        },
      }
    }
    return { status: 404, json: { name: "NotFoundError" } }
  }
  return { messages, deliver, handle }
}
