// A compute provider on loopback HTTP for the crash-loop tests: it allocates instances (and counts every request that
// arrives), serves each instance's runtime /pool/health, and can be told to refuse every call with a status (401 "Not
// Authorized", 503 …), to refuse deletes only, or to run instances that never get ready. The Compute client below
// talks to it over HTTP and reports the HTTP status in ProviderError, so the pool classifies faults the way it does
// for a real provider (providerFault: 401/403 unauthorized, 404 not found, 5xx unavailable).
import { serve } from "@hono/node-server"
import { Clock, Duration, Effect, Layer } from "effect"
import { Hono } from "hono"
import { ProviderError } from "../../domain/errors.ts"
import { Compute, type ComputeState, type ComputeStatus } from "../../providers/compute/Compute.ts"

export interface LoopbackInstance {
  readonly ref: string
  readonly instanceId: string
  /** What the provider reports; health answers only while running. */
  state: ComputeState
}

export const startLoopbackCloud = async () => {
  const instances = new Map<string, LoopbackInstance>()
  const counts = { createRequests: 0, statusRequests: 0, deleteRequests: 0, deleted: 0, healthRequests: 0 }
  /** Most instances allocated at once (sampled on every create). */
  let peakAllocated = 0
  let refuseAll: number | null = null
  let refuseDeletes: number | null = null
  let ready = true
  let seq = 0
  let base = ""
  const refusal = (status: number) => ({ error: status === 401 ? "Not Authorized" : `unavailable (${status})` })
  const app = new Hono()
  app.post("/instances", async (c) => {
    counts.createRequests++
    if (refuseAll !== null) return c.json(refusal(refuseAll), refuseAll as 401)
    const { instanceId } = (await c.req.json()) as { instanceId: string }
    const ref = `lb-${++seq}`
    instances.set(ref, { ref, instanceId, state: "running" })
    peakAllocated = Math.max(peakAllocated, instances.size)
    return c.json({ ref, url: `${base}/rt/${ref}` })
  })
  app.post("/status", async (c) => {
    counts.statusRequests++
    if (refuseAll !== null) return c.json(refusal(refuseAll), refuseAll as 401)
    const { refs } = (await c.req.json()) as { refs: string[] }
    return c.json(Object.fromEntries(refs.map((r) => [r, instances.get(r)?.state ?? "gone"])))
  })
  app.delete("/instances/:ref", (c) => {
    counts.deleteRequests++
    const status = refuseAll ?? refuseDeletes
    if (status !== null) return c.json(refusal(status), status as 401)
    if (!instances.delete(c.req.param("ref"))) return c.json({ error: "no such instance" }, 404)
    counts.deleted++
    return c.json({ ok: true })
  })
  app.get("/rt/:ref/pool/health", (c) => {
    counts.healthRequests++
    const i = instances.get(c.req.param("ref"))
    if (i?.state !== "running") return c.json({ error: "no runtime here" }, 502)
    return c.json({ ready, version: "loopback" })
  })
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
      base = `http://127.0.0.1:${info.port}`
      resolve(s)
    })
  })
  return {
    url: () => base,
    instances,
    counts,
    peakAllocated: () => peakAllocated,
    /** Every provider call (create, status, delete) answers this HTTP status; null: normal again. */
    refuseAll: (status: number | null) => void (refuseAll = status),
    refuseDeletes: (status: number | null) => void (refuseDeletes = status),
    /** Whether running instances' runtimes say ready. */
    setReady: (value: boolean) => void (ready = value),
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}

export type LoopbackCloud = Awaited<ReturnType<typeof startLoopbackCloud>>

const call = <A>(operation: string, url: string, init: RequestInit) =>
  Effect.tryPromise({
    try: () => fetch(url, { ...init, headers: { "content-type": "application/json" } }),
    catch: (e) =>
      new ProviderError({
        provider: "loopback",
        operation,
        status: null,
        retryable: true,
        message: `loopback ${operation}: no answer (${String(e)})`,
      }),
  }).pipe(
    Effect.flatMap((res) =>
      Effect.promise(() => res.text()).pipe(
        Effect.flatMap((text) =>
          res.ok
            ? Effect.succeed(JSON.parse(text) as A)
            : Effect.fail(
                new ProviderError({
                  provider: "loopback",
                  operation,
                  status: res.status,
                  retryable: res.status >= 500 || res.status === 429,
                  message: `loopback ${operation} failed (HTTP ${res.status}): ${text}`,
                }),
              ),
        ),
      ),
    ),
  )

/** The Compute port over the loopback cloud (named "railway" so the tick plans with Railway's call costs). */
export const loopbackCompute = (cloud: LoopbackCloud) =>
  Layer.succeed(
    Compute,
    Compute.of({
      name: "railway",
      create: (spec) =>
        call<{ ref: string; url: string }>("create", `${cloud.url()}/instances`, {
          method: "POST",
          body: JSON.stringify({ instanceId: spec.instanceId }),
        }).pipe(Effect.map((r) => ({ providerRef: r.ref, providerProjectRef: null, url: r.url }))),
      destroy: (ref) => call("destroy", `${cloud.url()}/instances/${ref}`, { method: "DELETE" }).pipe(Effect.asVoid),
      statusBatch: (refs) =>
        call<Record<string, ComputeState>>("status", `${cloud.url()}/status`, {
          method: "POST",
          body: JSON.stringify({ refs: refs.map((r) => r.providerRef) }),
        }).pipe(
          Effect.map(
            (m) =>
              new Map<string, ComputeStatus>(
                refs.map((r) => [
                  r.providerRef,
                  { providerRef: r.providerRef, state: m[r.providerRef] ?? "unknown", url: null },
                ]),
              ),
          ),
        ),
    }),
  )

/**
 * A Clock whose "now" can be moved forward while every sleep and timeout stays real: the tick and the circuit read
 * time from Clock, so moving it ahead stands for minutes passing, while the database sessions, their statement timeouts
 * and HTTP calls keep working in real time (TestClock would fire those timeouts while real I/O is still in flight).
 * With `hurried`, a sleep instead returns at once and moves "now" on by its duration (a wait of many short sleeps, such
 * as a claim's replay waiting out POOL_PROVISION_TIMEOUT, takes a fraction of a second; the database calls stay real).
 */
const shiftedClock = (hurried: boolean) =>
  Effect.map(Clock.clockWith(Effect.succeed), (real) => {
    let offset = 0
    const now = () => real.currentTimeMillisUnsafe() + offset
    const clock: Clock.Clock = {
      currentTimeMillisUnsafe: now,
      currentTimeMillis: Effect.sync(now),
      currentTimeNanosUnsafe: () => BigInt(now()) * 1_000_000n,
      currentTimeNanos: Effect.sync(() => BigInt(now()) * 1_000_000n),
      monotonicTimeNanosUnsafe: () => real.monotonicTimeNanosUnsafe(),
      monotonicTimeNanos: real.monotonicTimeNanos,
      sleep: hurried
        ? (d) => Effect.sync(() => void (offset += Duration.toMillis(d))).pipe(Effect.andThen(Effect.yieldNow))
        : (d) => real.sleep(d),
    }
    return {
      clock,
      now,
      advance: (d: Duration.Input) =>
        Effect.sync(() => void (offset += Duration.toMillis(Duration.fromInputUnsafe(d)))),
    }
  })
export const makeShiftedClock = shiftedClock(false)
export const makeHurriedClock = shiftedClock(true)
