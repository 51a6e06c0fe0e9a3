/** @jsxImportSource hono/jsx */
import { Effect, Option, Result, Schema } from "effect"
import { Hono, type Context } from "hono"
import type { ContentfulStatusCode } from "hono/utils/http-status"
import type { Pool } from "@convos-agents/pool-core"
import { MAX_BODY_BYTES, readRequestForm } from "@convos-agents/pool-core/api/body"
import { webDepsFromRuntime, type RuntimeMount, type WebDeps } from "./deps.ts"
import { qrSvg } from "./qr.ts"
import { makeRateLimiter, type RateLimiter } from "@convos-agents/pool-core/api/rate-limit"
import { clientIp, edgeIsHttps, edgeOrigin, sameSiteForms, securityHeaders } from "@convos-agents/pool-core/api/edge"
import { visitorId } from "./visitor.ts"
import { SITE_CSS_PATH, siteCss } from "./views/css.ts"
import { registerCatalog } from "./routes/catalog.tsx"
import { registerChat } from "./routes/chat.tsx"
import { registerClaims } from "./routes/claims.tsx"
import { ErrorPage, type InviteBox } from "./views/pages.tsx"

/** What every route module gets: the deps plus the helpers they share. */
export interface Shared {
  readonly deps: WebDeps
  /** Claims (launch + join), per IP and per visitor. */
  readonly limiter: RateLimiter
  /** Devnet chat joins (each may create a devnet identity), per IP and per visitor, with the same quota as claims. */
  readonly chatLimiter: RateLimiter
  readonly origin: (c: Context) => string
  /** The client's address (TRUST_PROXY) and the visitor's cookie id (Secure behind an https edge). */
  readonly ip: (c: Context) => string
  readonly visitor: (c: Context) => string
  /** Runs a Pool effect; failures come back as values so routes can answer each one with its own page. */
  readonly pool: <A, E>(effect: Effect.Effect<A, E, Pool>) => Promise<Result.Result<A, E>>
  readonly invite: (url: string) => Promise<InviteBox>
  readonly fail: (
    c: Context,
    status: ContentfulStatusCode,
    title: string,
    message: string,
    back?: string,
  ) => Response | Promise<Response>
  /**
   * The posted form's string fields, read within the shared body limit (pool-core/api/body.ts: reading stops as soon as
   * the limit is passed); otherwise the error page to answer (413 too large, 415 not a form, 400 damaged).
   */
  readonly form: (
    c: Context,
    back?: string,
  ) => Promise<
    | { readonly ok: true; readonly value: Record<string, string> }
    | { readonly ok: false; readonly response: Response | Promise<Response> }
  >
  /** Decodes a form (or query) with a Schema at the edge; None when it does not match. */
  readonly decode: <S extends Schema.ConstraintDecoder<unknown>>(schema: S, input: unknown) => Option.Option<S["Type"]>
}

export { slugPattern } from "./slug.ts"

/**
 * The web catalog as a hono app; mount it beside the pool API: `app.route("/", makeWebApp(deps))`, with deps from
 * `webDepsFromContext` (inside a scoped Effect) or `{ runtime, bot }` (a built ManagedRuntime with Pool + Messaging).
 */
export const makeWebApp = (input: WebDeps | RuntimeMount): Hono => {
  const deps = "runtime" in input ? webDepsFromRuntime(input) : input
  const app = new Hono()
  const rateLimit = deps.rateLimit ?? { max: 5, windowMs: 10 * 60_000 }
  const trustProxy = deps.trustProxy ?? 0
  const shared: Shared = {
    deps,
    limiter: makeRateLimiter(rateLimit),
    chatLimiter: makeRateLimiter(rateLimit),
    origin: (c) => deps.publicUrl?.replace(/\/$/, "") ?? edgeOrigin(c, trustProxy),
    ip: (c) => clientIp(c, trustProxy),
    visitor: (c) => visitorId(c, edgeIsHttps(c, trustProxy)),
    pool: (effect) => deps.run(Effect.result(effect)),
    invite: async (url) => ({ url, svg: await qrSvg(url) }),
    fail: (c, status, title, message, back) =>
      c.html(<ErrorPage status={status} title={title} message={message} {...(back ? { back } : {})} />, status),
    decode: (schema, input) => Schema.decodeUnknownOption(schema)(input),
    form: async (c, back) => {
      const body = await readRequestForm(c)
      if (body.ok) return body
      if (body.status === 413) {
        return {
          ok: false,
          response: shared.fail(
            c,
            413,
            "Too much text",
            `The form was larger than ${MAX_BODY_BYTES / 1024} KB. Shorten what you pasted and send again.`,
            back,
          ),
        }
      }
      return {
        ok: false,
        response: shared.fail(c, body.status, "Bad form", `${body.message} Send the form from the page again.`, back),
      }
    },
  }
  // Every page: security headers with a strict CSP (no script, this site's stylesheet). Every form post: only from
  // this site (hono csrf); Launch and Join also need their form token (routes/claims.tsx).
  app.use("*", securityHeaders())
  app.use(
    "*",
    sameSiteForms({
      trustProxy,
      ...(deps.publicUrl ? { publicUrl: deps.publicUrl } : {}),
      refused: (c) =>
        shared.fail(
          c,
          403,
          "Send the form from this site",
          "This form was sent from another site (or without the Origin header every browser sends), so it was refused. Open the page on this site and send the form from there.",
        ),
    }),
  )
  app.get(SITE_CSS_PATH, (c) =>
    c.body(siteCss, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=3600" }),
  )
  registerCatalog(app, shared)
  registerClaims(app, shared)
  registerChat(app, shared)

  const notFound = (c: Context) =>
    shared.fail(
      c,
      404,
      "Page not found",
      "There is no page at this address. Pick a template from the catalog, or scan the manager's QR code to start.",
    )
  app.notFound(notFound)
  // Mounted with app.route() the parent's notFound answers, so pages (not the API) get their 404 page here.
  app.get("*", (c) => (/^\/(api|admin)(\/|$)/.test(c.req.path) ? c.notFound() : notFound(c)))
  app.onError((error, c) => {
    console.error(`web: ${c.req.method} ${c.req.path} failed:`, error)
    return shared.fail(
      c,
      500,
      "Something went wrong",
      "The server could not answer this request. Try again in a moment; if it keeps failing, tell the operator.",
    )
  })
  return app
}
