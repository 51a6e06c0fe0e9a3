// The agent's own page (landing with its invite and QR, services with its email, phone and spend) is served by the
// agent's runtime and reachable only through a link its owner gets from `/agent <name>` in the manager chat: the
// link carries an expiry and an HMAC over it, keyed by a secret derived from the instance token (which the pool can
// derive and the runtime holds). An unsigned, tampered or expired link is refused with a page that says which.
import { createHmac, timingSafeEqual } from "node:crypto"

/** Where the runtime serves the pages (all under this prefix). */
export const AGENT_PAGE_PATH = "/convos/page"
export const AGENT_SERVICES_PAGE_PATH = "/convos/page/services"

/** How long a link from `/agent` stays valid. */
export const AGENT_PAGE_LINK_TTL_SECONDS = 24 * 60 * 60

// The page key is derived from the instance token, never the token itself: a leaked page signature says nothing about
// the bearer that drives the instance's contract.
const pageKey = (instanceToken: string) => createHmac("sha256", instanceToken).update("convos-agent-page/v1").digest()

export const agentPageSignature = (instanceToken: string, expiresAtSeconds: number): string =>
  createHmac("sha256", pageKey(instanceToken)).update(`agent-page:${expiresAtSeconds}`).digest("base64url")

/** The query that opens the pages until `expiresAtSeconds` (Unix seconds): `exp=…&sig=…`. */
export const agentPageQuery = (instanceToken: string, expiresAtSeconds: number): string =>
  `exp=${expiresAtSeconds}&sig=${agentPageSignature(instanceToken, expiresAtSeconds)}`

/** The owner's link to an agent's page at its runtime's base URL. */
export const agentPageUrl = (
  baseUrl: string,
  instanceToken: string,
  nowMs: number,
  ttlSeconds = AGENT_PAGE_LINK_TTL_SECONDS,
): string =>
  `${baseUrl.replace(/\/+$/, "")}${AGENT_PAGE_PATH}?${agentPageQuery(instanceToken, Math.floor(nowMs / 1000) + ttlSeconds)}`

export type AgentPageLinkCheck =
  | { readonly ok: true; readonly expiresAtSeconds: number }
  | { readonly ok: false; readonly reason: "unsigned" | "tampered" | "expired" }

/** Checks a link's `exp` and `sig` (constant time in the signature). The signature is checked before the expiry. */
export const checkAgentPageLink = (
  instanceToken: string | null,
  params: URLSearchParams,
  nowMs: number,
): AgentPageLinkCheck => {
  const exp = params.get("exp")
  const sig = params.get("sig")
  if (!exp || !sig) return { ok: false, reason: "unsigned" }
  if (!instanceToken || !/^\d{1,12}$/.test(exp)) return { ok: false, reason: "tampered" }
  const expected = Buffer.from(agentPageSignature(instanceToken, Number(exp)))
  const given = Buffer.from(sig)
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: "tampered" }
  if (Number(exp) * 1000 <= nowMs) return { ok: false, reason: "expired" }
  return { ok: true, expiresAtSeconds: Number(exp) }
}
