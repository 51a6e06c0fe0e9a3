import { randomBytes } from "node:crypto"
import type { Context } from "hono"
import { getCookie, setCookie } from "hono/cookie"

// Who is asking: a random visitor id in a cookie (unguessable, so it can also key the visitor's devnet chat identity).
// The client IP comes from pool-core/api/edge.ts (TRUST_PROXY).

const COOKIE = "convos_visitor"
const VALID_ID = /^[A-Za-z0-9_-]{22}$/

/** The visitor's id, set as a cookie on first sight; `secure` when the edge is https (edgeIsHttps). */
export const visitorId = (c: Context, secure: boolean): string => {
  const existing = getCookie(c, COOKIE)
  if (existing && VALID_ID.test(existing)) return existing
  const id = randomBytes(16).toString("base64url")
  setCookie(c, COOKIE, id, { httpOnly: true, sameSite: "Lax", path: "/", maxAge: 60 * 60 * 24 * 30, secure })
  return id
}
