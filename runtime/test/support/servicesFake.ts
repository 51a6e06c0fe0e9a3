// A loopback stand-in for the pool's agent service API (docs/api.md "Agent services") that checks
// every request the way the pool does: the bearer token and X-Instance-Id, the method, JSON bodies with exactly the
// contract's fields, the limit's range. Anything else is answered with the contract's error shape and recorded as a
// violation, so a test can assert there were none.
import { createServer, type IncomingMessage, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { randomBytes } from "node:crypto"
import { LIMITS } from "@convos-agents/contract"
import type { HeldServices } from "../../src/plugin/agentServices.ts"

export interface ServicesFakeRequest {
  readonly method: string
  readonly path: string
  readonly query: Record<string, string>
  readonly headers: IncomingMessage["headers"]
  readonly body: unknown
}

export interface ServicesFake {
  readonly url: string
  readonly requests: Array<ServicesFakeRequest>
  /** Requests that broke the contract (wrong auth header, body shape, method …), with why. */
  readonly violations: Array<string>
  held: HeldServices
  /** What GET /spend answers (the pool's SpendLookup: {usedUsd, limitUsd, limitReset}, "unavailable" or null). */
  spend: unknown
  /** How many POST /request-more reached the pool (each one a message to the owner in the real pool). */
  moreRequested: number
  /** Encrypted profile pictures uploaded (POST /me/avatar-blobs), by id; served publicly at /avatars/<id>. */
  readonly avatarBlobs: Map<string, { conversationId: string; bytes: Buffer }>
  /** The next answer to this path is this status + error line instead (e.g. 429 daily limit). */
  readonly failNext: Map<string, { status: number; error: string }>
  readonly close: () => Promise<void>
}

const EMAIL = /^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/
const PHONE = /^\+[1-9]\d{6,14}$/

const exactKeys = (body: unknown, keys: ReadonlyArray<string>): boolean =>
  body !== null &&
  typeof body === "object" &&
  !Array.isArray(body) &&
  Object.keys(body).sort().join(",") === [...keys].sort().join(",")

export const startServicesFake = async (options: {
  instanceId: string
  token: string
  held: HeldServices
}): Promise<ServicesFake> => {
  const requests: ServicesFakeRequest[] = []
  const violations: string[] = []
  const failNext = new Map<string, { status: number; error: string }>()
  const avatarBlobs = new Map<string, { conversationId: string; bytes: Buffer }>()
  let sent = 0
  const fake: Omit<ServicesFake, "url" | "close"> = {
    requests,
    violations,
    held: options.held,
    failNext,
    avatarBlobs,
    spend: null,
    moreRequested: 0,
  }
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const bytes = Buffer.concat(chunks)
    const raw = bytes.toString("utf8")
    const url = new URL(req.url ?? "/", "http://fake")
    let body: unknown
    const answer = (status: number, json: unknown) => {
      res.statusCode = status
      res.setHeader("content-type", "application/json")
      res.end(JSON.stringify(json))
    }
    const refuse = (status: number, why: string) => {
      violations.push(`${req.method} ${url.pathname}: ${why}`)
      answer(status, { error: why })
    }
    // The pool's public GET /avatars/<id> (no credentials) and the agent's binary upload, before the JSON checks.
    const blob = req.method === "GET" && /^\/avatars\/([A-Za-z0-9_-]+)$/.exec(url.pathname)?.[1]
    if (blob) {
      const kept = avatarBlobs.get(blob)
      res.statusCode = kept ? 200 : 404
      res.setHeader("content-type", "application/octet-stream")
      return res.end(kept?.bytes ?? "Not found")
    }
    if (req.method === "POST" && url.pathname === "/api/agent-services/me/avatar-blobs") {
      requests.push({
        method: "POST",
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: bytes.length,
      })
      if (
        req.headers.authorization !== `Bearer ${options.token}` ||
        req.headers["x-instance-id"] !== options.instanceId
      )
        return refuse(401, "missing or wrong Authorization / X-Instance-Id")
      if (req.headers["content-type"] !== "application/octet-stream")
        return refuse(400, "avatar blob without content-type application/octet-stream")
      const conversationId = url.searchParams.get("conversation") ?? ""
      if (conversationId === "" || bytes.length < 17 || bytes.length > LIMITS.avatarBytes + 16)
        return refuse(400, `avatar blob: conversation ${conversationId || "missing"}, ${bytes.length} bytes`)
      const id = randomBytes(18).toString("base64url")
      avatarBlobs.set(id, { conversationId, bytes })
      return answer(200, { id, path: `/avatars/${id}` })
    }
    if (raw !== "") {
      try {
        body = JSON.parse(raw)
      } catch {
        return refuse(400, "body is not JSON")
      }
    }
    requests.push({
      method: req.method ?? "",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body,
    })
    if (req.headers.authorization !== `Bearer ${options.token}`)
      return refuse(401, "missing or wrong Authorization: Bearer <instance token>")
    if (req.headers["x-instance-id"] !== options.instanceId) return refuse(401, "missing or wrong X-Instance-Id")
    const post = req.method === "POST"
    if (post && !String(req.headers["content-type"] ?? "").startsWith("application/json"))
      return refuse(400, "POST without content-type application/json")
    if (!post && raw !== "") return refuse(400, "GET with a body")
    const forced = failNext.get(url.pathname)
    if (forced) {
      failNext.delete(url.pathname)
      return answer(forced.status, { error: forced.error })
    }
    const held = fake.held
    const route = `${req.method} ${url.pathname}`
    switch (route) {
      case "GET /api/agent-services/me":
        return answer(200, { email: held.email, phone: held.phone, wallet: held.wallet })
      case "POST /api/agent-services/email/send": {
        if (!exactKeys(body, ["to", "subject", "text"]))
          return refuse(400, `body must be exactly {to, subject, text}, got ${raw}`)
        const b = body as { to: unknown; subject: unknown; text: unknown }
        if (
          typeof b.to !== "string" ||
          !EMAIL.test(b.to) ||
          typeof b.subject !== "string" ||
          b.subject === "" ||
          /[\r\n]/.test(b.subject) ||
          typeof b.text !== "string" ||
          b.text === ""
        ) {
          return refuse(400, `invalid email fields: ${raw}`)
        }
        if (!held.email) return answer(404, { error: "This agent has no email inbox." })
        return answer(200, { messageId: `msg-${++sent}` })
      }
      case "GET /api/agent-services/email/messages": {
        const limit = url.searchParams.get("limit")
        if (limit !== null && !(/^\d+$/.test(limit) && Number(limit) >= 1 && Number(limit) <= 50))
          return refuse(400, `limit must be 1-50, got ${limit}`)
        if (!held.email) return answer(404, { error: "This agent has no email inbox." })
        return answer(200, {
          messages: [
            {
              id: "m1",
              from: "ada@example.com",
              subject: "Hello",
              text: "Are you there?",
              receivedAt: "2026-12-03T10:00:00.000Z",
            },
          ].slice(0, Number(limit ?? 20)),
        })
      }
      case "POST /api/agent-services/sms/send": {
        if (!exactKeys(body, ["to", "text"])) return refuse(400, `body must be exactly {to, text}, got ${raw}`)
        const b = body as { to: unknown; text: unknown }
        if (typeof b.to !== "string" || !PHONE.test(b.to) || typeof b.text !== "string" || b.text === "")
          return refuse(400, `invalid SMS fields: ${raw}`)
        if (!held.phone) return answer(404, { error: "This agent has no phone number." })
        return answer(200, { id: `sms-${++sent}` })
      }
      case "GET /api/agent-services/spend":
        return answer(200, { spend: fake.spend })
      case "POST /api/agent-services/request-more":
        if (!exactKeys(body, [])) return refuse(400, `body must be {}, got ${raw}`)
        fake.moreRequested++
        return answer(200, { ok: true })
      case "POST /api/agent-services/me/model-problem": {
        if (!exactKeys(body, ["kind", "model", "message"]))
          return refuse(400, `body must be exactly {kind, model, message}, got ${raw}`)
        const b = body as { kind: unknown; message: unknown }
        if (!["unreachable", "unknown-model", "refused-key"].includes(String(b.kind)) || typeof b.message !== "string")
          return refuse(400, `invalid model problem: ${raw}`)
        return answer(200, { ok: true })
      }
      case "GET /api/agent-services/wallet":
        if (!held.wallet) return answer(404, { error: "This agent has no wallet." })
        return answer(200, { address: held.wallet.address })
      default:
        return refuse(404, `no such route in the agent service API: ${route}`)
    }
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return Object.assign(fake, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }) as ServicesFake
}
