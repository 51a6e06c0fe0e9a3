// The agent's typed service tools (send_email, list_emails, send_sms, wallet_address): each calls the pool's agent
// service API (docs/api.md "Agent services") at POOL_SERVICES_URL with the agent's own
// INSTANCE_TOKEN and INSTANCE_ID. No provider key is ever in the agent: the pool holds them, checks that the inbox,
// number or wallet is this agent's, and applies the daily limits. A tool is offered to the model only while the
// agent holds that service (GET /api/agent-services/me), so it never sees a tool it cannot use.
//
// Plain objects without any openclaw import (testable on a loopback server); the plugin entry registers them as
// OpenClaw tool factories (runtime/gateway/extensions/convos/index.ts).
import { Data } from "effect"

/** What GET /api/agent-services/me answers. */
export interface HeldServices {
  readonly email: { readonly address: string } | null
  readonly phone: { readonly number: string } | null
  readonly wallet: { readonly address: string } | null
}

export const NO_SERVICES: HeldServices = { email: null, phone: null, wallet: null }

export interface ServiceEndpoint {
  readonly baseUrl: string
  readonly instanceId: string
  readonly token: string
}

/** From the agent's boot env; null when the pool gave it no service API (then it has no service tools). */
export const serviceEndpointFromEnv = (env: Readonly<Record<string, string | undefined>>): ServiceEndpoint | null => {
  const baseUrl = env.POOL_SERVICES_URL?.trim().replace(/\/+$/, "")
  const instanceId = env.INSTANCE_ID?.trim()
  const token = env.INSTANCE_TOKEN?.trim()
  if (!baseUrl || !instanceId || !token || !/^https?:\/\//.test(baseUrl)) return null
  return { baseUrl, instanceId, token }
}

/** The pool's answers are small; more than this is not read (a broken or hostile endpoint cannot flood the agent). */
const MAX_ANSWER_BYTES = 256 * 1024
const TIMEOUT_MS = 15_000

/** A failed call of the pool's agent service API: its HTTP status (null: no answer) and what to tell the person. */
export class ServiceCallError extends Data.TaggedError("ServiceCallError")<{
  readonly status: number | null
  readonly message: string
}> {}

const readCapped = async (res: Response): Promise<string> => {
  if (!res.body) return ""
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel().catch(() => {})
      throw new ServiceCallError({
        status: res.status,
        message: `The pool's service answer was larger than ${MAX_ANSWER_BYTES} bytes; try again later.`,
      })
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString("utf8")
}

/** One request of the agent service API. Resolves with the JSON body of a 2xx; rejects with the pool's own error line. */
export const callService = async (
  endpoint: ServiceEndpoint,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> => {
  const headers: Record<string, string> = {
    authorization: `Bearer ${endpoint.token}`,
    "x-instance-id": endpoint.instanceId,
    accept: "application/json",
  }
  if (body !== undefined) headers["content-type"] = "application/json"
  let res: Response
  try {
    res = await fetch(`${endpoint.baseUrl}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(TIMEOUT_MS)]) : AbortSignal.timeout(TIMEOUT_MS),
    })
  } catch (e) {
    throw new ServiceCallError({
      status: null,
      message: `The pool's service API could not be reached (${e instanceof Error ? e.message : String(e)}); try again in a minute.`,
    })
  }
  const text = await readCapped(res)
  let parsed: unknown = null
  try {
    parsed = text === "" ? null : JSON.parse(text)
  } catch {
    // handled below
  }
  const json =
    parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null
  if (res.status < 200 || res.status >= 300) {
    const reason = typeof json?.error === "string" ? json.error : `HTTP ${res.status}`
    throw new ServiceCallError({ status: res.status, message: reason })
  }
  if (json === null)
    throw new ServiceCallError({
      status: res.status,
      message: "The pool's service API answered with something that is not a JSON object; try again later.",
    })
  return json
}

const nullable = <A>(v: unknown, pick: (o: Record<string, unknown>) => A | null): A | null =>
  v !== null && typeof v === "object" ? pick(v as Record<string, unknown>) : null

/** GET /api/agent-services/me, checked: anything malformed counts as "not held". */
export const fetchHeldServices = async (endpoint: ServiceEndpoint): Promise<HeldServices> => {
  const me = await callService(endpoint, "GET", "/api/agent-services/me")
  return {
    email: nullable(me.email, (o) => (typeof o.address === "string" ? { address: o.address } : null)),
    phone: nullable(me.phone, (o) => (typeof o.number === "string" ? { number: o.number } : null)),
    wallet: nullable(me.wallet, (o) => (typeof o.address === "string" ? { address: o.address } : null)),
  }
}

/** The result shape OpenClaw's concrete tools return: text for the model, details for structured consumers. */
export interface ToolResult {
  readonly content: ReadonlyArray<{ readonly type: "text"; readonly text: string }>
  readonly details: Record<string, unknown>
}

export interface AgentServiceTool {
  readonly name: "send_email" | "list_emails" | "send_sms" | "wallet_address"
  readonly label: string
  readonly description: string
  /** JSON Schema of the arguments. */
  readonly parameters: Record<string, unknown>
  readonly execute: (toolCallId: string, params: Record<string, unknown>, signal?: AbortSignal) => Promise<ToolResult>
}

const text = (t: string, details: Record<string, unknown>): ToolResult => ({
  content: [{ type: "text", text: t }],
  details,
})

/** Failures become a result the model can act on (the pool's line says what happened and what to do). */
const guarded = (name: string, run: () => Promise<ToolResult>): Promise<ToolResult> =>
  run().catch((e: unknown) => {
    const status = e instanceof ServiceCallError ? e.status : null
    const message = e instanceof Error ? e.message : String(e)
    return text(`${name} failed${status ? ` (HTTP ${status})` : ""}: ${message}`, { ok: false, status, error: message })
  })

const str = (params: Record<string, unknown>, key: string) =>
  typeof params[key] === "string" ? (params[key] as string) : ""

/** The tools for what the agent holds (email → send_email + list_emails, phone → send_sms, wallet → wallet_address). */
export const agentServiceTools = (endpoint: ServiceEndpoint, held: HeldServices): ReadonlyArray<AgentServiceTool> => {
  const tools: AgentServiceTool[] = []
  if (held.email) {
    const from = held.email.address
    tools.push(
      {
        name: "send_email",
        label: "Send email",
        description: `Send an email from your own address (${from}). Confirm recipient, subject and text with the person first.`,
        parameters: {
          type: "object",
          additionalProperties: false,
          required: ["to", "subject", "text"],
          properties: {
            to: { type: "string", description: "Recipient email address, e.g. ada@example.com.", maxLength: 320 },
            subject: { type: "string", description: "One-line subject.", minLength: 1, maxLength: 998 },
            text: { type: "string", description: "Plain-text body.", minLength: 1, maxLength: 50000 },
          },
        },
        execute: (_id, params, signal) =>
          guarded("send_email", async () => {
            const r = await callService(
              endpoint,
              "POST",
              "/api/agent-services/email/send",
              { to: str(params, "to"), subject: str(params, "subject"), text: str(params, "text") },
              signal,
            )
            return text(`Email sent to ${str(params, "to")} (message id ${String(r.messageId)}).`, {
              ok: true,
              messageId: r.messageId,
            })
          }),
      },
      {
        name: "list_emails",
        label: "List emails",
        description: `List the newest emails received at your address (${from}).`,
        parameters: {
          type: "object",
          additionalProperties: false,
          properties: {
            limit: {
              type: "integer",
              minimum: 1,
              maximum: 50,
              description: "How many, newest first (1-50, default 20).",
            },
          },
        },
        execute: (_id, params, signal) =>
          guarded("list_emails", async () => {
            const limit =
              typeof params.limit === "number" && Number.isInteger(params.limit)
                ? Math.min(50, Math.max(1, params.limit))
                : 20
            const r = await callService(
              endpoint,
              "GET",
              `/api/agent-services/email/messages?limit=${limit}`,
              undefined,
              signal,
            )
            const messages = Array.isArray(r.messages) ? (r.messages as Array<Record<string, unknown>>) : []
            const lines = messages.map(
              (m) =>
                `- ${String(m.receivedAt)} from ${String(m.from)}: ${String(m.subject)}\n  ${String(m.text ?? "").slice(0, 2000)}`,
            )
            return text(messages.length === 0 ? "No emails received yet." : lines.join("\n"), { ok: true, messages })
          }),
      },
    )
  }
  if (held.phone) {
    const number = held.phone.number
    tools.push({
      name: "send_sms",
      label: "Send SMS",
      description: `Send a text message (SMS) from your own number (${number}). Only text numbers the person gave you.`,
      parameters: {
        type: "object",
        additionalProperties: false,
        required: ["to", "text"],
        properties: {
          to: {
            type: "string",
            description: "Recipient in E.164 form, e.g. +15551234567.",
            pattern: "^\\+[1-9]\\d{6,14}$",
          },
          text: { type: "string", description: "The message.", minLength: 1, maxLength: 1600 },
        },
      },
      execute: (_id, params, signal) =>
        guarded("send_sms", async () => {
          const r = await callService(
            endpoint,
            "POST",
            "/api/agent-services/sms/send",
            { to: str(params, "to"), text: str(params, "text") },
            signal,
          )
          return text(`SMS sent to ${str(params, "to")} (id ${String(r.id)}).`, { ok: true, id: r.id })
        }),
    })
  }
  if (held.wallet) {
    tools.push({
      name: "wallet_address",
      label: "Wallet address",
      description:
        "Your own crypto wallet address (to receive funds). The pool holds the wallet's key; you never see it.",
      parameters: { type: "object", additionalProperties: false, properties: {} },
      execute: (_id, _params, signal) =>
        guarded("wallet_address", async () => {
          const r = await callService(endpoint, "GET", "/api/agent-services/wallet", undefined, signal)
          return text(`Your wallet address is ${String(r.address)}.`, { ok: true, address: r.address })
        }),
    })
  }
  return tools
}
