import { randomBytes } from "node:crypto"
import type { RecordedRequest, Reply } from "../http/testing.ts"

// Loopback stand-in for Bankr's Partner API (tests only), checked against the published reference
// (https://docs.bankr.bot/partnership/wallet-provisioning, /partnership/api-keys): X-Partner-Key on every request,
// POST /partner/wallets with only the documented body fields and types (idempotencyKey ≤ 128 characters), 201 with
// the new wallet, 200 with the existing one for a repeated idempotency key, 401 with Bankr's error texts, 404 for any
// other path. Anything the real API would refuse is refused, so a client mistake fails a test.

export const partnerKey = "bk_ptr_AbC12345_testsecretvalue0123456789abcdefgh"

const documentedBody = new Set(["idempotencyKey", "wallet", "apiKey"])
const documentedApiKey = new Set(["permissions", "allowedIps", "allowedRecipients"])
const permissionFlags = new Set(["agentApiEnabled", "llmGatewayEnabled", "tokenLaunchApiEnabled", "readOnly"])

const bad = (message: string): Reply => ({ status: 400, json: { error: "Invalid request", message } })
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/** Why a create body is not what the reference documents, or null when it is. */
const checkCreateBody = (body: unknown): string | null => {
  if (!isObject(body)) return "Request body must be a JSON object"
  for (const k of Object.keys(body)) if (!documentedBody.has(k)) return `Unknown field: ${k}`
  if (
    body.idempotencyKey !== undefined &&
    (typeof body.idempotencyKey !== "string" || body.idempotencyKey.length === 0 || body.idempotencyKey.length > 128)
  )
    return "idempotencyKey must be a string of at most 128 characters"
  if (body.wallet !== undefined) {
    if (
      !isObject(body.wallet) ||
      Object.keys(body.wallet).some((k) => k !== "solana") ||
      (body.wallet.solana !== undefined && typeof body.wallet.solana !== "boolean")
    )
      return "wallet must be { solana?: boolean }"
  }
  if (body.apiKey !== undefined) {
    if (!isObject(body.apiKey) || Object.keys(body.apiKey).some((k) => !documentedApiKey.has(k)))
      return "apiKey has unknown fields"
    const p = body.apiKey.permissions
    if (
      p !== undefined &&
      (!isObject(p) || Object.entries(p).some(([k, v]) => !permissionFlags.has(k) || typeof v !== "boolean"))
    )
      return "apiKey.permissions must hold boolean flags"
  }
  return null
}

/** Bankr Partner API wallets: created per idempotency key; `wallets` shows what exists at "Bankr". */
export const bankrPartnerApi = () => {
  const wallets = new Map<string, { id: string; evmAddress: string; idempotencyKey: string | null }>()
  const handle = (r: RecordedRequest): Reply => {
    const key = r.headers["x-partner-key"]
    if (key === undefined) return { status: 401, json: { error: "Partner API key required" } }
    if (key !== partnerKey)
      return { status: 401, json: { error: "The provided partner API key is invalid or inactive" } }
    if (!(r.method === "POST" && r.path === "/partner/wallets")) return { status: 404, json: { error: "Not found" } }
    if (!String(r.headers["content-type"] ?? "").startsWith("application/json"))
      return bad("Content-Type must be application/json")
    const why = checkCreateBody(r.body)
    if (why) return bad(why)
    const idempotencyKey = (r.body as { idempotencyKey?: string }).idempotencyKey ?? null
    const existing =
      idempotencyKey === null ? undefined : [...wallets.values()].find((w) => w.idempotencyKey === idempotencyKey)
    if (existing) return { status: 200, json: { id: existing.id, evmAddress: existing.evmAddress } }
    const wallet = {
      id: `wlt_${randomBytes(8).toString("hex")}`,
      evmAddress: `0x${randomBytes(20).toString("hex")}`,
      idempotencyKey,
    }
    wallets.set(wallet.id, wallet)
    return { status: 201, json: { id: wallet.id, evmAddress: wallet.evmAddress } }
  }
  return { wallets, handle }
}
