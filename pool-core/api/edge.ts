import { Config, Effect } from "effect"
import type { Context as HonoContext, MiddlewareHandler } from "hono"
import { csrf } from "hono/csrf"
import { HTTPException } from "hono/http-exception"
import { secureHeaders } from "hono/secure-headers"
import { InvalidConfig } from "../domain/errors.ts"

// What the web and the API know about the edge in front of them: who the client is (TRUST_PROXY), whether the edge
// speaks https (Secure cookies), which origin a form must come from (CSRF), and the security headers of every page.

/** Most proxy hops one can trust; more is certainly a typo. */
export const MAX_TRUST_PROXY = 10

/**
 * TRUST_PROXY=<hops>: how many proxies we run in front of this server. 0 (default): the socket address is the client.
 * N: the client is the Nth address of X-Forwarded-For counted from the right (each proxy appends the address it saw),
 * so whatever a client writes into the header itself (on the left) is never taken for its address.
 */
export const loadTrustProxy: Effect.Effect<number, InvalidConfig> = Config.Int("TRUST_PROXY").pipe(
  Config.withDefault(0),
  Effect.mapError(
    () =>
      new InvalidConfig({
        variable: "TRUST_PROXY",
        message: "TRUST_PROXY must be a whole number of proxy hops (0 = no proxy). See .env.example.",
      }),
  ),
  Effect.flatMap((hops) =>
    hops >= 0 && hops <= MAX_TRUST_PROXY
      ? Effect.succeed(hops)
      : Effect.fail(
          new InvalidConfig({
            variable: "TRUST_PROXY",
            message: `TRUST_PROXY must be from 0 to ${MAX_TRUST_PROXY} (the proxies in front of this server); got ${hops}. See .env.example.`,
          }),
        ),
  ),
)

const socketAddress = (c: HonoContext): string => {
  // @hono/node-server passes the Node request as env.incoming.
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming
  return incoming?.socket?.remoteAddress ?? "unknown"
}

/** The entry `hops` from the right of a comma-separated forwarding header (the leftmost when there are fewer). */
const fromTheRight = (header: string | undefined, hops: number): string | null => {
  const entries = (header ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
  if (entries.length === 0) return null
  return entries[Math.max(0, entries.length - hops)]!
}

/** The client's IP address: the socket's, or with TRUST_PROXY=N the Nth X-Forwarded-For entry from the right. */
export const clientIp = (c: HonoContext, trustProxy: number): string => {
  if (trustProxy <= 0) return socketAddress(c)
  return fromTheRight(c.req.header("x-forwarded-for"), trustProxy) ?? socketAddress(c)
}

/** The edge speaks https: this request's URL is https, or a trusted proxy says it received https. */
export const edgeIsHttps = (c: HonoContext, trustProxy: number): boolean => {
  if (new URL(c.req.url).protocol === "https:") return true
  return trustProxy > 0 && fromTheRight(c.req.header("x-forwarded-proto"), trustProxy)?.toLowerCase() === "https"
}

/** The origin the visitor's browser sees: this request's host, with the edge's scheme. */
export const edgeOrigin = (c: HonoContext, trustProxy: number): string => {
  const url = new URL(c.req.url)
  return `${edgeIsHttps(c, trustProxy) ? "https:" : url.protocol}//${url.host}`
}

export interface SameSiteFormsOptions {
  readonly trustProxy: number
  /** A configured public origin (e.g. https://agents.example.com), accepted besides the request's own. */
  readonly publicUrl?: string
  /** The answer to a refused post (a page that says to send the form from this site). */
  readonly refused: (c: HonoContext) => Response | Promise<Response>
}

/**
 * hono's csrf middleware on every state-changing form post: a form is accepted only from a page of this site
 * (Sec-Fetch-Site: same-origin, or an Origin equal to this site's). A post that carries neither is refused too:
 * every browser sends them, and a form from another site must never act on a visitor's cookie.
 */
export const sameSiteForms = (o: SameSiteFormsOptions): MiddlewareHandler => {
  const extra = o.publicUrl ? new URL(o.publicUrl).origin : null
  const check = csrf({
    origin: (origin, c) =>
      origin === edgeOrigin(c, o.trustProxy) || origin === new URL(c.req.url).origin || origin === extra,
  })
  return async (c, next) => {
    try {
      return await check(c, next)
    } catch (e) {
      if (e instanceof HTTPException && e.status === 403) return o.refused(c)
      throw e
    }
  }
}

/**
 * Security headers (hono's secure-headers) with a strict Content-Security-Policy: the pages carry no script at all,
 * styles come from this site's own stylesheet, images are this site's or inline data, forms post only here, and
 * only this site may frame a page (the devnet chat frames its message list).
 */
export const securityHeaders = (): MiddlewareHandler =>
  secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", "data:"],
      formAction: ["'self'"],
      frameSrc: ["'self'"],
      frameAncestors: ["'self'"],
      baseUri: ["'none'"],
    },
  })
