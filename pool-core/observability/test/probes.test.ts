import { serve } from "@hono/node-server"
import { Duration, Effect, Exit, Layer, ManagedRuntime, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeApiApp } from "../../api/index.ts"
import { TestDatabase } from "../../db/testing.ts"
import { Pool } from "../../pool/Pool.ts"
import { PoolTest } from "../../pool/testing.ts"
import { checkFailed, Readiness, ReadinessLive } from "../Readiness.ts"

// /healthz, /readyz and /metrics over real HTTP on loopback, against the test pool with its tick running on a real
// database (PGlite, or Postgres with TEST_DATABASE_URL); POOL_MIN_IDLE=0, so only the tests start agents. Provisioning takes 3 s in the in-memory cloud, so /metrics
// can be scraped while a claim is in flight.

const KEY = "probe-key-0123456789"
const bearer = { authorization: `Bearer ${KEY}` }

let runtime: ManagedRuntime.ManagedRuntime<any, any>
let base = ""
let stop: () => Promise<void>

beforeAll(async () => {
  const layer = PoolTest({
    settings: { runTick: true, tickInterval: Duration.millis(200), minIdle: 0 },
    cloud: { provisionDelay: Duration.seconds(3) },
  }).pipe(Layer.provideMerge(ReadinessLive.pipe(Layer.provide(TestDatabase))))
  runtime = ManagedRuntime.make(layer)
  await runtime.runPromise(Effect.void)
  const app = makeApiApp(runtime, { apiKey: KEY })
  await new Promise<void>((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
      base = `http://127.0.0.1:${info.port}`
      stop = () => new Promise((r) => server.close(() => r()))
      resolve()
    })
  })
})
afterAll(async () => {
  await stop?.()
  await runtime?.dispose()
})

/** Polls until `check` passes (the test timeout is the only bound: no wall-clock assumption about a loaded machine). */
const until = async <A>(read: () => Promise<A>, check: (a: A) => boolean): Promise<A> => {
  for (;;) {
    const a = await read()
    if (check(a)) return a
    await new Promise((r) => setTimeout(r, 50))
  }
}

const readyz = async (headers: Record<string, string> = {}) => {
  const res = await fetch(`${base}/readyz`, { headers })
  return {
    status: res.status,
    body: (await res.json()) as { ready: boolean; checks: Array<{ name: string; ok: boolean; detail?: string }> },
  }
}
const scrape = async () => {
  const res = await fetch(`${base}/metrics`, { headers: bearer })
  expect(res.status).toBe(200)
  expect(res.headers.get("content-type")).toContain("text/plain")
  return await res.text()
}
/** The value of one Prometheus sample line, e.g. sample(text, 'pool_claims_total{outcome="claimed"}'); 0 when absent. */
const sample = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line ? Number(line.slice(series.length + 1)) : 0
}
const sql = (query: string) => runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (s) => s.unsafe(query)))

describe("probes", { timeout: 300_000 }, () => {
  it("/healthz is liveness only: ok while /readyz says not ready", async () => {
    await sql("ALTER TABLE instances RENAME TO instances_away")
    try {
      const notReady = await until(
        () => readyz(),
        (r) => r.status === 503,
      )
      expect(notReady.body.ready).toBe(false)
      const health = await fetch(`${base}/healthz`)
      expect(health.status).toBe(200)
      expect(await health.json()).toEqual({ ok: true })
    } finally {
      await sql("ALTER TABLE instances_away RENAME TO instances")
    }
  })

  it("/readyz checks the database and the tick: ready once a tick finished, 503 naming the tick while ticks fail, ready again after", async () => {
    const ready = await until(
      () => readyz(bearer),
      (r) => r.status === 200,
    )
    expect(ready.body.ready).toBe(true)
    expect(ready.body.checks.map((c) => c.name).sort()).toEqual(["database", "tick"])
    expect(ready.body.checks.find((c) => c.name === "tick")!.detail).toMatch(/^last tick \d+ s ago$/)

    // The tick reads `instances`: without it every tick fails, while the database itself still answers.
    await sql("ALTER TABLE instances RENAME TO instances_away")
    try {
      const failing = await until(
        () => readyz(bearer),
        (r) => r.status === 503,
      )
      const tick = failing.body.checks.find((c) => c.name === "tick")!
      expect(tick.ok).toBe(false)
      expect(tick.detail).toContain("the last tick failed")
      expect(tick.detail).toContain("Database operation failed")
      expect(failing.body.checks.find((c) => c.name === "database")).toEqual({
        name: "database",
        ok: true,
        detail: "answers",
      })
      // Without the key: which check fails, not why (a database error can name internal hosts).
      const anonymous = await readyz()
      expect(anonymous.status).toBe(503)
      expect(anonymous.body.checks.find((c) => c.name === "tick")).toEqual({ name: "tick", ok: false })
    } finally {
      await sql("ALTER TABLE instances_away RENAME TO instances")
    }
    expect(
      (
        await until(
          () => readyz(bearer),
          (r) => r.status === 200,
        )
      ).body.ready,
    ).toBe(true)
  })

  it("/readyz fails on a check that fails or never answers, naming it, and recovers when it is gone", async () => {
    await until(
      () => readyz(),
      (r) => r.status === 200,
    )
    const scope = await runtime.runPromise(
      Effect.gen(function* () {
        const readiness = yield* Readiness
        const scope = yield* Scope.make()
        yield* readiness
          .register("messaging", checkFailed("the bot's client does not answer"))
          .pipe(Scope.provide(scope))
        yield* readiness.register("hanging", Effect.never).pipe(Scope.provide(scope))
        return { close: Scope.close(scope, Exit.void) }
      }),
    )
    const r = await readyz(bearer)
    expect(r.status).toBe(503)
    expect(r.body.checks.find((c) => c.name === "messaging")).toEqual({
      name: "messaging",
      ok: false,
      detail: "the bot's client does not answer",
    })
    expect(r.body.checks.find((c) => c.name === "hanging")).toEqual({
      name: "hanging",
      ok: false,
      detail: "no answer within 3s",
    })
    await runtime.runPromise(scope.close)
    expect((await readyz()).status).toBe(200)
  })

  it("/metrics needs the API key", async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401)
    expect((await fetch(`${base}/metrics`, { headers: { authorization: "Bearer wrong-key-0123456789" } })).status).toBe(
      401,
    )
  })

  it("/metrics during a claim: the claim is in flight, then counted with its latency; the tick is counted too", async () => {
    await runtime.runPromise(Effect.flatMap(Pool, (p) => p.replenish(1).pipe(Effect.andThen(p.tick))))
    await until(
      () => runtime.runPromise(Effect.flatMap(Pool, (p) => p.counts)),
      (c) => c.idle > 0,
    )
    const before = await scrape()
    const claim = fetch(`${base}/api/pool/claim`, {
      method: "POST",
      headers: { ...bearer, "content-type": "application/json", "idempotency-key": "metrics-claim" },
      body: "{}",
    })
    const during = await until(scrape, (t) => sample(t, "pool_claims_in_flight") === 1)
    expect(sample(during, 'pool_claims_total{outcome="claimed"}')).toBe(
      sample(before, 'pool_claims_total{outcome="claimed"}'),
    )
    expect((await claim).status).toBe(200)
    const after = await scrape()
    expect(sample(after, "pool_claims_in_flight")).toBe(0)
    expect(sample(after, 'pool_claims_total{outcome="claimed"}')).toBe(
      sample(before, 'pool_claims_total{outcome="claimed"}') + 1,
    )
    expect(sample(after, "pool_claim_duration_seconds_count")).toBe(
      sample(before, "pool_claim_duration_seconds_count") + 1,
    )
    // Provisioning alone takes 3 s: the claim is not in the buckets up to 2.5 s.
    expect(sample(after, 'pool_claim_duration_seconds_bucket{le="2.5"}')).toBe(
      sample(before, 'pool_claim_duration_seconds_bucket{le="2.5"}'),
    )
    expect(sample(after, 'pool_claim_duration_seconds_bucket{le="+Inf"}')).toBe(
      sample(before, 'pool_claim_duration_seconds_bucket{le="+Inf"}') + 1,
    )
    // A second claim with nothing idle is counted under its outcome.
    await runtime.runPromise(Effect.flatMap(Pool, (p) => p.drain(20)))
    const refused = await fetch(`${base}/api/pool/claim`, {
      method: "POST",
      headers: { ...bearer, "content-type": "application/json", "idempotency-key": "metrics-none" },
      body: "{}",
    })
    expect(refused.status).toBe(409)
    expect(sample(await scrape(), 'pool_claims_total{outcome="NoAgentAvailable"}')).toBe(
      sample(before, 'pool_claims_total{outcome="NoAgentAvailable"}') + 1,
    )
    expect(sample(after, 'pool_ticks_total{outcome="ran"}')).toBeGreaterThan(0)
    // The gauges of instances by status follow the ticks.
    await until(
      scrape,
      (t) => sample(t, 'pool_instances{status="claimed"}') === 1 && sample(t, 'pool_instances{status="idle"}') === 0,
    )
  })
})
