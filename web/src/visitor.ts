import { randomBytes } from "node:crypto"
import type { Context } from "hono"
import { getCookie, setCookie } from "hono/cookie"

// Who is asking: a random visitor id in a cookie (unguessable, so it can also key the visitor's devnet chat identity)
// and the client IP from the socket (X-Forwarded-For only when the app sits behind a proxy we trust).

const COOKIE = "convos_visitor"
const VALID_ID = /^[A-Za-z0-9_-]{22}$/

export const visitorId = (c: Context): string => {
  const existing = getCookie(c, COOKIE)
  if (existing && VALID_ID.test(existing)) return existing
  const id = randomBytes(16).toString("base64url")
  setCookie(c, COOKIE, id, { httpOnly: true, sameSite: "Lax", path: "/", maxAge: 60 * 60 * 24 * 30 })
  return id
}

export const clientIp = (c: Context, trustProxy: boolean): string => {
  if (trustProxy) {
    const forwarded = c.req.header("x-forwarded-for")?.split(",")[0]?.trim()
    if (forwarded) return forwarded
  }
  // @hono/node-server passes the Node request as env.incoming.
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming
  return incoming?.socket?.remoteAddress ?? "unknown"
}
