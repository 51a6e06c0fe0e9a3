import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import { Clock, Exit } from "effect"
import type { Context as HonoContext, MiddlewareHandler } from "hono"
import { getCookie } from "hono/cookie"
import type { Run } from "./http.ts"

// Mutations need `Authorization: Bearer $POOL_API_KEY`; the admin page uses a signed session cookie instead (the key is
// typed once into the login form and never appears in a page or a URL).

export const SESSION_COOKIE = "convos_admin"
const SESSION_TTL_MS = 24 * 60 * 60 * 1000

// Compares HMAC-SHA256 digests (fixed 32 bytes) under a per-process random key, so neither the time taken nor an early
// length check tells a caller how long the secret is or how much of it they guessed.
const compareKey = randomBytes(32)
const digest = (s: string) => createHmac("sha256", compareKey).update(s, "utf8").digest()

export const safeEqual = (a: string, b: string) => timingSafeEqual(digest(a), digest(b))

const sign = (secret: string, payload: string) => createHmac("sha256", secret).update(payload).digest("base64url")

/**
 * The time by the runtime's Clock, so session expiry follows Effect time (TestClock in tests). Reading the clock
 * cannot fail; only an interrupted request (client gone) ends without it.
 */
export const clockNow = async (run: Run): Promise<number> => {
  const exit = await run(Clock.currentTimeMillis)
  if (Exit.isSuccess(exit)) return exit.value
  throw new Error("Reading the clock was interrupted (the request was cancelled).")
}

export const makeSession = (secret: string, now: number) => {
  const payload = `admin.${now + SESSION_TTL_MS}`
  return `${payload}.${sign(secret, payload)}`
}

export const validSession = (secret: string, value: string | undefined, now: number) => {
  if (!value) return false
  const i = value.lastIndexOf(".")
  if (i < 0) return false
  const payload = value.slice(0, i)
  const expires = Number(payload.split(".")[1])
  return safeEqual(value.slice(i + 1), sign(secret, payload)) && Number.isFinite(expires) && expires > now
}

export const hasAdminSession = async (run: Run, c: HonoContext, secret: string) =>
  validSession(secret, getCookie(c, SESSION_COOKIE), await clockNow(run))

export const bearerOk = (c: HonoContext, apiKey: string) => {
  const header = c.req.header("authorization") ?? ""
  const match = /^Bearer\s+(.+)$/i.exec(header)
  return match !== null && safeEqual(match[1]!.trim(), apiKey)
}

/** Bearer key (API clients) or a valid admin session (the dashboard's forms). */
export const requireKey =
  (run: Run, apiKey: string | null, sessionSecret: string): MiddlewareHandler =>
  async (c, next) => {
    if (!apiKey) return c.json({ error: "Mutations are disabled: set POOL_API_KEY on the server." }, 503)
    if (bearerOk(c, apiKey) || (await hasAdminSession(run, c, sessionSecret))) return next()
    const sent = c.req.header("authorization")
    return c.json(
      { error: sent ? "Wrong API key." : "Missing API key: send Authorization: Bearer <POOL_API_KEY>." },
      401,
    )
  }
