import { randomBytes } from "node:crypto"
import type { ManagedRuntime } from "effect"
import { Hono } from "hono"
import { configSync, loadPoolApiKey } from "./config.ts"
import { loadTrustProxy, securityHeaders } from "./edge.ts"
import type { RateLimitOptions } from "./rateLimit.ts"
import { openApiDocument } from "./openapi.ts"
import { adminRoutes } from "./routes/admin.tsx"
import { agentServiceRoutes } from "./routes/agentServices.ts"
import { avatarRoutes } from "./routes/avatars.ts"
import { poolRoutes } from "./routes/pool.ts"
import { promptRoutes } from "./routes/prompts.ts"
import { probeRoutes } from "./routes/probes.ts"
import { runnerOf } from "./http.ts"

export interface ApiOptions {
  /** The API key; null disables mutations and admin sign-in (they answer 503 saying so). Default: POOL_API_KEY (Config). */
  readonly apiKey?: string | null
  /** Signs admin session cookies; random per process by default (sessions end on restart). */
  readonly sessionSecret?: string
  readonly info?: () => Record<string, unknown>
  /** TRUST_PROXY hops in front of this server (api/edge.ts). Default: TRUST_PROXY (Config), 0 when unset. */
  readonly trustProxy?: number
  /** Admin sign-in attempts per client address. Default: 10 per 15 minutes. */
  readonly loginLimit?: RateLimitOptions
}

/**
 * The pool HTTP API and admin page, as one hono app over a runtime that provides `Pool`. Without `apiKey` it reads
 * POOL_API_KEY and throws InvalidConfig (naming the variable) when the value is unusable.
 */
export const makeApiApp = (runtime: ManagedRuntime.ManagedRuntime<any, any>, options: ApiOptions = {}) => {
  const run = runnerOf(runtime)
  const apiKey = options.apiKey === undefined ? configSync(loadPoolApiKey) : options.apiKey
  const sessionSecret = options.sessionSecret ?? randomBytes(32).toString("hex")
  const info = options.info ?? (() => ({ version: "0.1.0" }))
  const trustProxy = options.trustProxy ?? configSync(loadTrustProxy)
  const loginLimit = options.loginLimit ?? { max: 10, windowMs: 15 * 60_000 }
  const app = new Hono()
  // Security headers with a strict CSP on every response (pages and JSON).
  app.use("*", securityHeaders())
  // /healthz (liveness), /readyz (database, messaging, tick) and /metrics (Prometheus text, key-protected).
  app.route("/", probeRoutes({ run, apiKey, sessionSecret }))
  app.get("/api/openapi.json", (c) => c.json(openApiDocument))
  app.route("/", poolRoutes({ run, apiKey, sessionSecret, info }))
  // Agents' own calls (instance token, not the API key): email, SMS and wallet through the pool (docs/api.md "Agent services").
  app.route("/api/agent-services", agentServiceRoutes({ run }))
  // Agents' profile pictures, encrypted per conversation (public: ciphertext under unguessable ids).
  app.route("/", avatarRoutes({ run }))
  // Agent prompts kept on Notion pages (NOTION_API_KEY), an hour in memory; public for the catalog's pages only.
  app.route("/api/prompts", promptRoutes({ run, apiKey, sessionSecret }))
  app.route("/", adminRoutes({ run, apiKey, sessionSecret, trustProxy, loginLimit }))
  app.notFound((c) =>
    c.req.path.startsWith("/api/")
      ? c.json({ error: `No route ${c.req.method} ${c.req.path}. See /api/openapi.json.` }, 404)
      : c.text("Not found", 404),
  )
  return app
}
