import { Effect, Option } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { Hono } from "hono"
import { Readiness, type ReadinessReport } from "../../observability/Readiness.ts"
import { bearerOk, hasAdminSession, requireKey } from "../auth.ts"
import type { Run } from "../http.ts"

// Probes and metrics. /healthz is liveness only: the process answers HTTP (an orchestrator restarts it when it does
// not). /readyz runs the readiness checks (database, messaging, tick; observability/Readiness.ts) and answers 503
// when one fails: route no traffic here. Anyone may ask /readyz; which check failed and why is shown only to callers
// with the API key (a database error can name internal hosts). /metrics is Prometheus text, key-protected.

export interface ProbeRoutesOptions {
  readonly run: Run
  readonly apiKey: string | null
  readonly sessionSecret: string
}

const notConfigured: ReadinessReport = {
  ready: false,
  checks: [{ name: "readiness", ok: false, detail: "no readiness checks in this server's layer (ReadinessLive)" }],
}

export const probeRoutes = (o: ProbeRoutesOptions) => {
  const app = new Hono()
  app.get("/healthz", (c) => c.json({ ok: true }))

  app.get("/readyz", async (c) => {
    const exit = await o.run(
      Effect.flatMap(
        Effect.serviceOption(Readiness),
        Option.match({ onNone: () => Effect.succeed(notConfigured), onSome: (r) => r.report }),
      ),
      c.req.raw.signal,
    )
    const report =
      exit._tag === "Success"
        ? exit.value
        : { ready: false, checks: [{ name: "readiness", ok: false, detail: "the checks could not run" }] }
    const detailed = o.apiKey !== null && (bearerOk(c, o.apiKey) || (await hasAdminSession(o.run, c, o.sessionSecret)))
    const checks = report.checks.map((r) => (detailed ? r : { name: r.name, ok: r.ok }))
    if (!report.ready) {
      const failing = report.checks.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`)
      await o.run(Effect.logWarning(`not ready: ${failing.join("; ")}`))
    }
    return c.json({ ready: report.ready, checks }, report.ready ? 200 : 503)
  })

  app.get("/metrics", requireKey(o.run, o.apiKey, o.sessionSecret), async (c) => {
    const exit = await o.run(PrometheusMetrics.format(), c.req.raw.signal)
    if (exit._tag === "Failure") return c.text("Metrics could not be read; see the logs.", 500)
    return c.body(exit.value, 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
      "cache-control": "no-store",
    })
  })
  return app
}
