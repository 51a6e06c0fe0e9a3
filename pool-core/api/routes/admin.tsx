import { Cause, Clock, Effect, Option, Result, Schema, SchemaTransformation } from "effect"
import { type Context as HonoContext, Hono } from "hono"
import { deleteCookie, setCookie } from "hono/cookie"
import type { FC } from "hono/jsx"
import QRCode from "qrcode"
import { LIMITS, PoolCount } from "@convos-agents/contract"
import type { Instance, InstanceCounts } from "../../domain/instance.ts"
import { Pool } from "../../pool/Pool.ts"
import { OpenRouter } from "../../providers/openrouter/OpenRouter.ts"
import { topUpAgent } from "../../providers/resources/maintenance.ts"
import { type SpendLookup, spendingInstances, spendOf, spendText, usd } from "../../providers/resources/spend.ts"
import { clockNow, hasAdminSession, makeSession, SESSION_COOKIE, safeEqual } from "../auth.ts"
import { readRequestForm } from "../body.ts"
import { clientIp, edgeIsHttps, sameSiteForms } from "../edge.ts"
import type { Run } from "../http.ts"
import { makeRateLimiter, type RateLimitOptions } from "../rateLimit.ts"
import { ADMIN_CSS_PATH, adminCss, Login, Page } from "./adminLayout.tsx"
import { adminHistoryRoutes } from "./adminHistory.tsx"
import { adminInstanceRoutes } from "./adminInstance.tsx"

// Admin dashboard: server-rendered, forms only (no script). Login exchanges the API key for a signed session cookie;
// the key never appears in a page or URL. POST forms are accepted only from this origin (plus SameSite=Strict).

const STATUSES = ["starting", "idle", "claiming", "claimed", "crashed", "dead", "draining"] as const

// The dashboard's forms, decoded with Schema at the edge like the JSON routes (the same PoolCount as /replenish, /drain).
const CountField = Schema.String.check(Schema.isPattern(/^\d{1,2}$/)).pipe(
  Schema.decodeTo(PoolCount, SchemaTransformation.numberFromString),
)
export const IdField = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9-]{1,64}$/))
const CountForm = Schema.Struct({ count: CountField })
const IdForm = Schema.Struct({ id: IdField })
const decodeCount = Schema.decodeUnknownResult(CountForm)
const decodeId = Schema.decodeUnknownResult(IdForm)
// USD with at most cents; the upper bound (OPENROUTER_TOPUP_MAX) is checked by the top-up itself.
const TopUpForm = Schema.Struct({
  id: IdField,
  amountUsd: Schema.String.check(Schema.isPattern(/^\d{1,6}(\.\d{1,2})?$/)).pipe(
    Schema.decodeTo(Schema.Number, SchemaTransformation.numberFromString),
  ),
})
const decodeTopUp = Schema.decodeUnknownResult(TopUpForm)

/** Every pool failure is tagged and says what to do (domain/errors.ts): the dashboard shows its message. */
type PoolOp = Effect.Effect<string, { readonly _tag: string; readonly message: string }, Pool>
const pool = <A, E>(f: (p: Pool["Service"]) => Effect.Effect<A, E>) => Effect.flatMap(Pool, f)

/** Each dashboard action: its form decoded (a clear message when it does not match), then the pool operation. */
const withCount = (form: Record<string, string>, op: (n: number) => PoolOp): Result.Result<PoolOp, string> => {
  const given = (form.count ?? "1").trim()
  return Result.match(decodeCount({ count: given }), {
    onSuccess: (f) => Result.succeed(op(f.count)),
    onFailure: () =>
      Result.fail(
        `Invalid count "${given.slice(0, 20)}": enter a whole number from ${LIMITS.poolCountMin} to ${LIMITS.poolCountMax}.`,
      ),
  })
}
const withId = (form: Record<string, string>, op: (id: string) => PoolOp): Result.Result<PoolOp, string> =>
  Result.match(decodeId({ id: form.id ?? "" }), {
    onSuccess: (f) => Result.succeed(op(f.id)),
    onFailure: () => Result.fail("Invalid id: pick an instance from the list (ids are letters, digits and dashes)."),
  })
const withTopUp = (form: Record<string, string>): Result.Result<PoolOp, string> => {
  const given = (form.amountUsd ?? "").trim()
  return Result.match(decodeTopUp({ id: form.id ?? "", amountUsd: given }), {
    onSuccess: (f) =>
      Result.succeed(
        topUpAgent(f.id, f.amountUsd, "admin").pipe(
          Effect.map(
            (r) => `Topped up ${r.instanceId.slice(0, 8)} by ${usd(r.amountUsd)}: its cap is now ${usd(r.limitUsd)}.`,
          ),
        ),
      ),
    onFailure: () =>
      Result.fail(
        `Invalid amountUsd "${given.slice(0, 20)}": enter USD above 0 with at most 2 decimals, e.g. 5 or 12.50.`,
      ),
  })
}
const actions: Record<string, (form: Record<string, string>) => Result.Result<PoolOp, string>> = {
  replenish: (f) =>
    withCount(f, (n) => pool((p) => p.replenish(n).pipe(Effect.map((x) => `Started ${x.length} instance(s).`)))),
  drain: (f) =>
    withCount(f, (n) => pool((p) => p.drain(n).pipe(Effect.map((x) => `Drained ${x.length} instance(s).`)))),
  kill: (f) => withId(f, (id) => pool((p) => p.kill(id).pipe(Effect.map((i) => `Killed ${i.id.slice(0, 8)}.`)))),
  dismiss: (f) =>
    withId(f, (id) => pool((p) => p.dismiss(id).pipe(Effect.map((i) => `Dismissed ${i.id.slice(0, 8)}.`)))),
  topup: withTopUp,
}

/** The dashboard's form actions (POST /admin/actions/:action), for tests that must try every one. */
export const adminActionNames: ReadonlyArray<string> = Object.keys(actions)

/** How long ago, at `now` (the Clock's time when the page was read). */
const age = (d: Date, now: number) => {
  const s = Math.max(0, Math.round((now - d.getTime()) / 1000))
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`
}

const Dashboard: FC<{
  counts: InstanceCounts
  instances: ReadonlyArray<Instance>
  spend: ReadonlyMap<string, SpendLookup>
  /** Most one top-up may add (USD); null when OpenRouter is not configured. */
  topUpMax: number | null
  /** The configured model: what an agent without its own model thinks with (null: none configured). */
  defaultModel: string | null
  /** When the page was read (Clock), for the instances' ages. */
  now: number
  filter: string | null
  qr: Record<string, string>
  notice?: string
}> = (p) => (
  <Page title="Pool admin">
    <h1>Pool admin</h1>
    {p.notice ? <p>{p.notice}</p> : null}
    <nav class="pills">
      <a href="/admin" class={p.filter ? "" : "on"}>
        all {p.counts.total}
      </a>
      {STATUSES.map((s) => (
        <a href={`/admin?status=${s}`} class={p.filter === s ? "on" : ""}>
          {s} {p.counts[s]}
        </a>
      ))}
    </nav>
    <p>
      <form class="inline" method="post" action="/admin/actions/replenish">
        <input type="number" name="count" min={LIMITS.poolCountMin} max={LIMITS.poolCountMax} value="1" />{" "}
        <button type="submit">Replenish</button>
      </form>{" "}
      <form class="inline" method="post" action="/admin/actions/drain">
        <input type="number" name="count" min={LIMITS.poolCountMin} max={LIMITS.poolCountMax} value="1" />{" "}
        <button type="submit">Drain idle</button>
      </form>{" "}
      <form class="inline" method="post" action="/admin/logout">
        <button type="submit">Sign out</button>
      </form>{" "}
      <a href="/admin/history">Pool history (24 h)</a>
    </p>
    <table>
      <thead>
        <tr>
          <th>id</th>
          <th>status</th>
          <th>age</th>
          <th>name</th>
          <th>template</th>
          <th>model</th>
          <th>spend</th>
          <th>problem</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        {p.instances.map((i) => (
          <tr>
            <td>
              <code>{i.id.slice(0, 8)}</code>
            </td>
            <td>{i.status}</td>
            <td>{age(i.createdAt, p.now)}</td>
            <td>{i.agentName ?? "—"}</td>
            <td>{i.templateSlug ?? "—"}</td>
            <td>{i.status === "idle" || i.status === "starting" ? "—" : (i.model ?? p.defaultModel ?? "—")}</td>
            <td>{spendText(p.spend.get(i.id) ?? null)}</td>
            <td>{i.lastError ?? ""}</td>
            <td>
              <a href={`/admin/instances/${i.id}`}>Details</a> {p.qr[i.id] ? <a href={`#qr-${i.id}`}>QR</a> : null}{" "}
              {i.status === "crashed" || i.status === "dead" ? (
                <form class="inline" method="post" action="/admin/actions/dismiss">
                  <input type="hidden" name="id" value={i.id} />
                  <button type="submit">Dismiss</button>
                </form>
              ) : null}{" "}
              {p.topUpMax !== null && (p.spend.get(i.id) ?? null) !== null ? (
                <form class="inline" method="post" action="/admin/actions/topup">
                  <input type="hidden" name="id" value={i.id} />
                  <input
                    type="number"
                    name="amountUsd"
                    min="0.01"
                    max={String(p.topUpMax)}
                    step="0.01"
                    value="5"
                    aria-label="USD to add to the spending cap"
                  />{" "}
                  <button type="submit">Top up</button>
                </form>
              ) : null}{" "}
              <form class="inline" method="post" action="/admin/actions/kill">
                <input type="hidden" name="id" value={i.id} />
                <button type="submit">Kill</button>
              </form>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
    {p.instances
      .filter((i) => p.qr[i.id])
      .map((i) => (
        <section class="modal" id={`qr-${i.id}`}>
          <div>
            <h2>{i.agentName}</h2>
            <span dangerouslySetInnerHTML={{ __html: p.qr[i.id]! }} />
            <p>
              <code>{i.inviteUrl}</code>
            </p>
            {/* biome-ignore lint/a11y/useValidAnchor: "#" closes the :target modal without script (the CSP allows none) */}
            <a href="#">Close</a>
          </div>
        </section>
      ))}
  </Page>
)

export interface AdminRoutesOptions {
  readonly run: Run
  readonly apiKey: string | null
  readonly sessionSecret: string
  /** TRUST_PROXY hops (api/edge.ts): the client address the login limit counts, and whether the edge is https. */
  readonly trustProxy: number
  /** Sign-in attempts per client address per window. */
  readonly loginLimit: RateLimitOptions
}

export const adminRoutes = (o: AdminRoutesOptions) => {
  const app = new Hono()
  const loginLimiter = makeRateLimiter(o.loginLimit)
  // Every admin form post comes from this site's own pages (hono csrf; the session cookie is SameSite=Strict too).
  app.use(
    "/admin/*",
    sameSiteForms({
      trustProxy: o.trustProxy,
      refused: (c) =>
        c.html(
          <Login error="Cross-site form posts are refused: sign in and use the forms on this site's own admin page." />,
          403,
        ),
    }),
  )
  app.get(ADMIN_CSS_PATH, (c) =>
    c.body(adminCss, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=3600" }),
  )
  // An instance's page (/admin/instances/:id) and the pool history charts (/admin/history), same session rules.
  const instance = adminInstanceRoutes(o)
  app.route("/", instance.app)
  app.route("/", adminHistoryRoutes(o))

  const dashboard = async (c: HonoContext, notice?: string, status = 200) => {
    const filter = STATUSES.find((s) => s === c.req.query("status")) ?? null
    const exit = await o.run(
      Effect.all({
        counts: pool((p) => p.counts),
        defaultModel: pool((p) => Effect.succeed(p.models.configured)),
        instances: pool((p) => p.list(filter ? { status: [filter], limit: 500 } : { limit: 500 })),
        now: Clock.currentTimeMillis,
      }).pipe(
        Effect.flatMap((r) => Effect.map(spendOf(spendingInstances(r.instances)), (spend) => ({ ...r, spend }))),
        Effect.flatMap((r) =>
          Effect.map(Effect.serviceOption(OpenRouter), (or) => ({
            ...r,
            topUpMax: Option.isSome(or) && or.value.configured ? or.value.topUpMax : null,
          })),
        ),
      ),
      c.req.raw.signal,
    )
    if (exit._tag === "Failure")
      return c.html(
        <Page title="Pool admin">
          <p class="err">The pool is not answering; reload in a moment.</p>
        </Page>,
        503,
      )
    const qr: Record<string, string> = {}
    for (const i of exit.value.instances)
      if (i.inviteUrl) qr[i.id] = await QRCode.toString(i.inviteUrl, { type: "svg", margin: 1 })
    return c.html(<Dashboard {...exit.value} filter={filter} qr={qr} {...(notice ? { notice } : {})} />, status as 200)
  }

  app.get("/admin", async (c) =>
    (await hasAdminSession(o.run, c, o.sessionSecret)) ? dashboard(c) : c.html(<Login />),
  )
  app.post("/admin/login", async (c) => {
    if (!o.apiKey) return c.html(<Login error="Admin sign-in is disabled: set POOL_API_KEY on the server." />, 503)
    // Every attempt counts (right or wrong), per client address: guessing the key is slow.
    const verdict = loginLimiter.hit([`ip:${clientIp(c, o.trustProxy)}`])
    if (!verdict.allowed) {
      c.header("Retry-After", String(verdict.retryAfterSeconds))
      const minutes = Math.ceil(verdict.retryAfterSeconds / 60)
      return c.html(
        <Login
          error={`Too many sign-in attempts from your address. Wait ${minutes} minute${minutes === 1 ? "" : "s"}, then try again.`}
        />,
        429,
      )
    }
    const body = await readRequestForm(c)
    if (!body.ok) return c.html(<Login error={body.message} />, body.status)
    const key = body.value.key ?? ""
    if (!safeEqual(key, o.apiKey)) return c.html(<Login error="Wrong API key." />, 401)
    setCookie(c, SESSION_COOKIE, makeSession(o.sessionSecret, await clockNow(o.run)), {
      httpOnly: true,
      sameSite: "Strict",
      secure: edgeIsHttps(c, o.trustProxy),
      path: "/",
      maxAge: 24 * 60 * 60,
    })
    return c.redirect("/admin", 303)
  })
  app.post("/admin/logout", (c) => {
    deleteCookie(c, SESSION_COOKIE, { path: "/" })
    return c.redirect("/admin", 303)
  })
  app.post("/admin/actions/:action", async (c) => {
    if (!(await hasAdminSession(o.run, c, o.sessionSecret)))
      return c.html(<Login error="Your session ended; sign in again." />, 401)
    const action = Object.hasOwn(actions, c.req.param("action")) ? actions[c.req.param("action")]! : null
    if (!action) return c.text(`Unknown action "${c.req.param("action")}".`, 404)
    const body = await readRequestForm(c)
    if (!body.ok) return dashboard(c, `Failed: ${body.message}`, body.status)
    // The forms of an instance page (hidden back=instance) answer with that page, the others with the dashboard.
    const back =
      body.value.back === "instance" && Result.isSuccess(decodeId({ id: body.value.id ?? "" })) ? body.value.id! : null
    const answer = (notice: string, status = 200) =>
      back ? instance.page(c, back, notice, status) : dashboard(c, notice, status)
    const decoded = action(body.value)
    if (Result.isFailure(decoded)) return answer(`Failed: ${decoded.failure}`, 400)
    const op = decoded.success
    const exit = await o.run(op)
    if (exit._tag === "Success") return answer(exit.value)
    const failure = Option.getOrUndefined(Cause.findErrorOption(exit.cause))
    return answer(`Failed: ${failure?.message ?? "internal error"}`, 400)
  })
  return app
}
