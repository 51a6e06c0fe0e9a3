import { serve } from "@hono/node-server"
import { Effect, ManagedRuntime } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { instanceToken, PoolConfig } from "../../config.ts"
import { Pool } from "../../pool/Pool.ts"
import { PoolTest } from "../../pool/testing.ts"
import { makeSession, SESSION_COOKIE } from "../auth.ts"
import { makeApiApp } from "../index.ts"
import { adminActionNames } from "../routes/admin.tsx"

// Every route of the pool API and the admin, taken from the app itself (app.routes), times every way of not being
// allowed: no key, a wrong key, an expired admin session, a session signed by someone else, and a real credential of
// the other kind (an agent's instance token on the pool's routes, the pool key on the agent service routes). Each must
// be refused (401, or the login form for GET /admin) without doing anything; the same request with the right key, a
// valid session or (agent service routes) the agent's own instance token gets past the check. A route added later is in the table automatically; only the short list of public
// routes below is exempt, so a new route without a key check fails here until someone decides it is public.

const KEY = "auth-matrix-key-0123456789"
const SECRET = "auth-matrix-session-secret"
const DAY = 24 * 60 * 60 * 1000

/** Routes anyone may call. Everything else needs the key (or an admin session). */
const PUBLIC = new Set([
  "GET /healthz",
  "GET /readyz", // a probe: ready or not, and which checks; why a check failed only with the key (probes.ts)
  "GET /api/openapi.json",
  "GET /api/pool/counts",
  "GET /api/pool/agents",
  "GET /api/pool/info",
  "GET /api/pool/templates",
  "GET /api/pool/templates/:slug",
  "POST /admin/logout", // only deletes the caller's own cookie
  "GET /admin/assets/admin.css", // the sign-in page's stylesheet (the CSP allows no inline style)
  "GET /avatars/:id", // agents' profile pictures: AES-GCM ciphertext under unguessable ids (routes/avatars.ts)
])

let runtime: ManagedRuntime.ManagedRuntime<any, any>
let app: ReturnType<typeof makeApiApp>
let base = ""
let stop: () => Promise<void> = async () => {}
let claimedId = ""
let claimedToken = ""

beforeAll(async () => {
  runtime = ManagedRuntime.make(PoolTest())
  app = makeApiApp(runtime, { apiKey: KEY, sessionSecret: SECRET })
  await new Promise<void>((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
      base = `http://127.0.0.1:${info.port}`
      stop = () => new Promise((r) => server.close(() => r()))
      resolve()
    })
  })
  // Something to act on: idle instances (replenish/drain/claim would change them) and one claimed agent (its id fills :id).
  claimedId = await runtime.runPromise(
    Effect.gen(function* () {
      const pool = yield* Pool
      yield* pool.replenish(3)
      yield* pool.tick
      return (yield* pool.claim({ key: "auth-matrix", claimedBy: "api:owner" })).instance.id
    }),
  )
  claimedToken = await runtime.runPromise(Effect.map(PoolConfig, (settings) => instanceToken(settings, claimedId)))
})
afterAll(async () => {
  await stop()
  await runtime?.dispose()
})

interface Call {
  readonly route: string
  readonly method: string
  readonly path: string
}

/** The app's own routes (middleware entries excluded), path parameters filled with real values. */
const calls = (): ReadonlyArray<Call> => {
  const seen = new Set<string>()
  const out: Array<Call> = []
  for (const r of app.routes) {
    if (r.method === "ALL") continue
    const route = `${r.method} ${r.path}`
    if (seen.has(route) || PUBLIC.has(route)) continue
    seen.add(route)
    // pageId: a Notion page no template names (a catalog page is public, any other needs the key).
    const fills: Record<string, ReadonlyArray<string>> = {
      id: [claimedId],
      slug: ["trip-planner"],
      action: adminActionNames,
      pageId: ["0123456789abcdef0123456789abcdef"],
    }
    let paths = [r.path]
    for (const param of r.path.match(/:\w+/g) ?? []) {
      const values = fills[param.slice(1)]
      if (!values) throw new Error(`${route}: the auth table has no value for ${param}; add one to fills`)
      paths = paths.flatMap((p) => values.map((v) => p.replace(param, v)))
    }
    for (const path of paths) out.push({ route, method: r.method, path })
  }
  return out
}

type Credentials = Record<string, string>
const session = (issuedAt: number, secret = SECRET) => ({
  cookie: `${SESSION_COOKIE}=${makeSession(secret, issuedAt)}`,
})
/** The agent service API (docs/api.md "Agent services") takes an agent's instance token, not the pool key. */
const isAgentRoute = (call: Call) => call.path.startsWith("/api/agent-services/")
const refusals: Record<string, (call: Call) => Credentials> = {
  "no key": () => ({}),
  "wrong key": () => ({ authorization: "Bearer auth-matrix-wrong-key-000000" }),
  "expired session": () => session(Date.now() - DAY - 60_000),
  "session signed by another secret": () => session(Date.now(), "someone-elses-secret"),
  "a real credential of the other kind": (call) => ({
    authorization: `Bearer ${isAgentRoute(call) ? KEY : claimedToken}`,
  }),
}

/** What each API mutation accepts (bodies are strict: an unknown field is refused), so that only the credentials decide. */
const jsonBodies: Record<string, unknown> = {
  "POST /api/pool/claim": { agentName: "Matrix" },
  "POST /api/pool/replenish": { count: 1 },
  "POST /api/pool/drain": { count: 1 },
  "POST /api/pool/instances/:id/topup": { amountUsd: 1 },
  "POST /api/agent-services/email/send": { to: "someone@example.com", subject: "Hello", text: "Hi" },
  "POST /api/agent-services/sms/send": { to: "+15555550100", text: "Hi" },
  "POST /api/agent-services/me/model-problem": {
    kind: "unreachable",
    model: "llama3.2",
    message: "The model server at http://127.0.0.1:11434/v1 is not answering, so I cannot think right now.",
  },
}

const send = (call: Call, credentials: Credentials) => {
  const admin = call.path.startsWith("/admin")
  // A body every handler accepts, so that only the credentials decide; same-origin so CSRF checks pass.
  const body =
    call.method === "GET" || call.method === "HEAD"
      ? undefined
      : admin
        ? new URLSearchParams({
            count: "1",
            id: claimedId,
            amountUsd: "1",
            key: credentials.authorization?.slice(7) ?? "",
          })
        : JSON.stringify(jsonBodies[call.route] ?? {})
  return fetch(`${base}${call.path}`, {
    method: call.method,
    headers: {
      origin: base,
      ...(admin ? {} : { "content-type": "application/json" }),
      "idempotency-key": "auth-matrix-other",
      "x-instance-id": claimedId,
      ...credentials,
    },
    redirect: "manual",
    ...(body ? { body } : {}),
  })
}

const snapshot = () =>
  runtime.runPromise(
    Effect.flatMap(Pool, (p) =>
      p.list({ limit: 1000 }).pipe(Effect.map((all) => all.map((i) => `${i.id} ${i.status} ${i.agentName}`).sort())),
    ),
  )

describe("auth: every route × every way of not being allowed", () => {
  it("the table covers the API's mutations and reads behind the key, and every admin action", () => {
    const routes = new Set(calls().map((c) => c.route))
    for (const r of [
      "POST /api/pool/claim",
      "POST /api/pool/replenish",
      "POST /api/pool/drain",
      "POST /api/pool/reconcile",
      "POST /api/pool/upgrade",
      "DELETE /api/pool/instances/:id",
      "DELETE /api/pool/crashed/:id",
      "POST /api/pool/instances/:id/topup",
      "GET /api/pool/instances",
      "GET /admin",
      "POST /admin/login",
      "POST /admin/actions/:action",
      "GET /api/agent-services/me",
      "GET /admin/instances/:id",
      "GET /admin/history",
    ]) {
      expect(routes, r).toContain(r)
    }
    expect(
      calls()
        .filter((c) => c.route === "POST /admin/actions/:action")
        .map((c) => c.path),
    ).toEqual(adminActionNames.map((a) => `/admin/actions/${a}`))
  })

  it("each is refused (401, or the login form) and changes nothing", async () => {
    const before = await snapshot()
    const wrong: Array<string> = []
    for (const call of calls()) {
      for (const [how, credentials] of Object.entries(refusals)) {
        const res = await send(call, credentials(call))
        const text = await res.text()
        // GET /admin without a session is the sign-in page itself; everything else answers 401.
        const refused =
          call.route === "GET /admin"
            ? res.status === 200 && text.includes('name="key"') && !text.includes(claimedId)
            : res.status === 401
        if (!refused || text.includes(claimedId))
          wrong.push(`${call.method} ${call.path} with ${how}: ${res.status} ${text.slice(0, 120)}`)
      }
    }
    expect(wrong).toEqual([])
    expect(await snapshot(), "no refused request changed the pool").toEqual(before)
  })

  it("the same requests with the right key or a valid session get past the check", async () => {
    const right: Record<string, Credentials> = {
      "the key": { authorization: `Bearer ${KEY}` },
      "a valid session": session(Date.now()),
    }
    const stuck: Array<string> = []
    for (const call of calls()) {
      const admin = call.path.startsWith("/admin")
      const credentials = isAgentRoute(call)
        ? { authorization: `Bearer ${claimedToken}` }
        : admin
          ? call.route === "POST /admin/login"
            ? right["the key"]!
            : right["a valid session"]!
          : right["the key"]!
      const res = await send(call, credentials)
      const text = await res.text()
      // Past the check means the handler ran on this very request: not refused, not a missing route, not a body the
      // handler rejected (which would hide whether it would have acted).
      const blocked =
        res.status === 401 ||
        (res.status === 404 && text.includes("No route")) ||
        // (only on a refusal: a 200 body such as GET /metrics may name metrics or errors with these words)
        (res.status >= 400 && /Invalid|excess property|field/.test(text)) ||
        (call.route === "GET /admin" && !text.includes("Pool admin"))
      if (blocked) stuck.push(`${call.method} ${call.path}: ${res.status} ${text.slice(0, 120)}`)
    }
    expect(stuck).toEqual([])
  })
})
