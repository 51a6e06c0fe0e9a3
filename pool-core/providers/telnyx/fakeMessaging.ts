import { randomUUID } from "node:crypto"
import type { RecordedRequest, Reply } from "../http/testing.ts"
import { apiKey, profile } from "./fake.ts"

// The messaging part of the Telnyx stand-in (tests only), wrapped around the numbers fake: Send a message
// (POST /v2/messages, https://developers.telnyx.com/api/messaging/send-message) from a number the account owns,
// with the org key and the messaging profile; answers { data: { id, … } } like the real API.

export const withTelnyxMessaging = (owned: () => ReadonlyArray<string>, base: (r: RecordedRequest) => Reply) => {
  const sent: Array<{ id: string; from: string; to: string; text: string }> = []
  const allowed = new Set([
    "from",
    "to",
    "text",
    "messaging_profile_id",
    "subject",
    "media_urls",
    "webhook_url",
    "webhook_failover_url",
    "use_profile_webhooks",
    "type",
    "auto_detect",
  ])
  const handle = (r: RecordedRequest): Reply => {
    if (!(r.path === "/messages" && r.method === "POST")) return base(r)
    if (r.headers.authorization !== `Bearer ${apiKey}`)
      return { status: 401, json: { errors: [{ title: "Authentication failed" }] } }
    const b = r.body as Record<string, unknown> | undefined
    const invalid = (detail: string): Reply => ({
      status: 422,
      json: { errors: [{ code: "10004", title: "Invalid parameter", detail }] },
    })
    if (!b || typeof b !== "object") return invalid("body required")
    const unknown = Object.keys(b).filter((k) => !allowed.has(k))
    if (unknown.length > 0) return invalid(`unknown parameters: ${unknown.join(",")}`)
    if (typeof b.to !== "string" || !/^\+[1-9]\d{6,14}$/.test(b.to))
      return invalid("to must be a phone number in E.164 format")
    if (typeof b.from !== "string" || !owned().includes(b.from)) return invalid("from must be a number on this account")
    if (b.messaging_profile_id !== undefined && b.messaging_profile_id !== profile)
      return invalid("unknown messaging profile")
    if (typeof b.text !== "string" || b.text.length === 0) return invalid("text is required")
    const id = randomUUID()
    sent.push({ id, from: b.from, to: b.to, text: b.text })
    return {
      json: {
        data: {
          record_type: "message",
          id,
          direction: "outbound",
          type: "SMS",
          messaging_profile_id: profile,
          from: { phone_number: b.from },
          to: [{ phone_number: b.to, status: "queued" }],
          text: b.text,
        },
      },
    }
  }
  return { sent, handle }
}
