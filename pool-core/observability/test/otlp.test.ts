import { serve } from "@hono/node-server"
import { ConfigProvider, Effect, Exit, Layer, ManagedRuntime } from "effect"
import { Hono } from "hono"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Pool } from "../../pool/Pool.ts"
import { PoolTest } from "../../pool/testing.ts"
import { TelemetryLive, telemetrySettings } from "../Telemetry.ts"

// OTLP export through Effect's own exporter, against a loopback OTLP/HTTP receiver that keeps what arrives and checks
// it is OTLP JSON (content type, resource, ids of the right size, parent links). A claim and a tick run on the test
// pool; disposing the runtime flushes the exporters.

interface Span {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly startTimeUnixNano: string
  readonly endTimeUnixNano: string
}
interface Received {
  readonly path: string
  readonly contentType: string
  readonly body: any
}

const received: Array<Received> = []
let base = ""
let stop: () => Promise<void>

beforeAll(async () => {
  const app = new Hono()
  app.post("/v1/:signal", async (c) => {
    received.push({ path: c.req.path, contentType: c.req.header("content-type") ?? "", body: await c.req.json() })
    return c.json({})
  })
  await new Promise<void>((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
      base = `http://127.0.0.1:${info.port}`
      stop = () => new Promise((r) => server.close(() => r()))
      resolve()
    })
  })
})
afterAll(() => stop?.())

const withEnv = (env: Record<string, string>) => ConfigProvider.layer(ConfigProvider.fromUnknown(env))

/** Warms one agent, claims it, and stops the system (which flushes the exporters). */
const claimOnce = async (env: Record<string, string>) => {
  const runtime = ManagedRuntime.make(
    PoolTest().pipe(Layer.provideMerge(TelemetryLive.pipe(Layer.provide(withEnv(env))))),
  )
  await runtime.runPromise(
    Effect.flatMap(Pool, (p) =>
      p
        .replenish(1)
        .pipe(Effect.andThen(p.tick), Effect.andThen(p.claim({ key: "otlp-claim", claimedBy: "api:otlp" }))),
    ),
  )
  await runtime.dispose()
}

const spansOf = (items: ReadonlyArray<Received>): Array<Span> =>
  items
    .filter((r) => r.path === "/v1/traces")
    .flatMap((r) => r.body.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans)))

// Each case builds and stops a whole test pool: minutes on a loaded 2-core machine, hence the timeout.
describe("OTLP export", { timeout: 300_000 }, () => {
  it("with OTEL_EXPORTER_OTLP_ENDPOINT, spans of the claim (provision under it) and of the tick phases, and the metrics, arrive as OTLP JSON", async () => {
    await claimOnce({ OTEL_EXPORTER_OTLP_ENDPOINT: `${base}/`, OTEL_SERVICE_NAME: "ops-test" })
    expect(received.every((r) => r.contentType.startsWith("application/json"))).toBe(true)
    const traces = received.filter((r) => r.path === "/v1/traces")
    expect(traces.length).toBeGreaterThan(0)
    for (const t of traces) {
      const attrs = t.body.resourceSpans[0].resource.attributes as Array<{
        key: string
        value: { stringValue?: string }
      }>
      expect(attrs.find((a) => a.key === "service.name")?.value.stringValue).toBe("ops-test")
    }
    const spans = spansOf(received)
    for (const s of spans) {
      expect(s.traceId).toMatch(/^[0-9a-f]{32}$/)
      expect(s.spanId).toMatch(/^[0-9a-f]{16}$/)
      expect(BigInt(s.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(s.startTimeUnixNano))
    }
    const named = (name: string) => spans.filter((s) => s.name === name)
    const [claim] = named("pool.claim")
    expect(claim).toBeDefined()
    const provision = named("pool.provision").find((s) => s.parentSpanId === claim!.spanId)
    expect(provision?.traceId).toBe(claim!.traceId)
    expect(named("pool.provision.runtime").some((s) => s.parentSpanId === provision!.spanId)).toBe(true)
    const tick = named("pool.tick")
    expect(tick.length).toBeGreaterThan(0)
    expect(named("pool.tick.health").some((s) => tick.some((t) => t.spanId === s.parentSpanId))).toBe(true)

    const metricNames = received
      .filter((r) => r.path === "/v1/metrics")
      .flatMap((r) =>
        r.body.resourceMetrics.flatMap((rm: any) =>
          rm.scopeMetrics.flatMap((sm: any) => sm.metrics.map((m: any) => m.name as string)),
        ),
      )
    expect(metricNames).toEqual(
      expect.arrayContaining(["pool_claims_total", "pool_claim_duration_seconds", "pool_ticks_total"]),
    )
  })

  it("without it nothing is sent; a value that is not an http(s) URL is refused naming the variable", async () => {
    const before = received.length
    await claimOnce({})
    expect(received.length).toBe(before)
    const bad = await Effect.runPromiseExit(
      telemetrySettings.pipe(Effect.provide(withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }))),
    )
    expect(Exit.isFailure(bad)).toBe(true)
    expect(JSON.stringify(bad)).toContain("OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL of an OTLP/HTTP receiver")
  })
})
