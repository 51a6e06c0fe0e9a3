import { serve } from "@hono/node-server"
import { afterAll, beforeAll } from "vitest"
import { Effect, Layer, ManagedRuntime } from "effect"
import { poolConfigLayer, type PoolSettings } from "../../config.ts"
import { TestDatabase } from "../../db/testing.ts"
import { Pool } from "../../pool/Pool.ts"
import { PoolLive } from "../../pool/PoolLive.ts"
import { type MemoryCloudOptions, memoryCloudLayer, PoolTest } from "../../pool/testing.ts"
import { agentResourcesOverFakes, providerFakesLayer } from "../../providers/resources/testing.ts"
import { type ApiOptions, makeApiApp } from "../index.ts"

// The pool API over real HTTP on 127.0.0.1 (a free port) against the test pool (real Postgres with DATABASE_URL,
// PGlite otherwise), for the API test files.

export const KEY = "test-key-0123456789"

export interface ApiServer {
  readonly base: string
  readonly runtime: ManagedRuntime.ManagedRuntime<any, any>
  readonly auth: Record<string, string>
  readonly post: (path: string, body: unknown, headers?: Record<string, string>) => Promise<Response>
  /** Creates n instances and runs one tick, so they are idle. */
  readonly warm: (n: number) => Promise<void>
  /** Signs in to /admin and returns the session cookie (name=value). */
  readonly session: () => Promise<string>
  readonly close: () => Promise<void>
}

export interface StartApiOptions {
  readonly settings?: Partial<PoolSettings>
  readonly api?: Omit<ApiOptions, "apiKey">
  readonly cloud?: MemoryCloudOptions
}

export const startApi = async (options: StartApiOptions = {}): Promise<ApiServer> => {
  const runtime = ManagedRuntime.make(
    PoolTest({
      ...(options.settings ? { settings: options.settings } : {}),
      ...(options.cloud ? { cloud: options.cloud } : {}),
    }),
  )
  await runtime.runPromise(Effect.void)
  const app = makeApiApp(runtime, { apiKey: KEY, info: () => ({ version: "test", network: "devnet" }), ...options.api })
  const { base, stop } = await new Promise<{ base: string; stop: () => Promise<void> }>((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
      resolve({ base: `http://127.0.0.1:${info.port}`, stop: () => new Promise((r) => server.close(() => r())) }),
    )
  })
  const auth = { authorization: `Bearer ${KEY}`, "content-type": "application/json" }
  return {
    base,
    runtime,
    auth,
    post: (path, body, headers = auth) =>
      fetch(`${base}${path}`, {
        method: "POST",
        headers,
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    warm: (n) =>
      runtime.runPromise(Effect.flatMap(Pool, (p) => p.replenish(n).pipe(Effect.andThen(p.tick), Effect.asVoid))),
    session: async () => {
      const login = await fetch(`${base}/admin/login`, {
        method: "POST",
        headers: { origin: base },
        body: new URLSearchParams({ key: KEY }),
        redirect: "manual",
      })
      return (login.headers.get("set-cookie") ?? "").split(";")[0]!
    },
    close: async () => {
      await stop()
      await runtime.dispose()
    },
  }
}

/** The test pool (in-memory compute) with live AgentResources over the loopback provider fakes (OpenRouter, AgentMail, Telnyx, Bankr). */
export const poolLayerOverProviderFakes = PoolLive.pipe(
  Layer.provideMerge(memoryCloudLayer()),
  Layer.provideMerge(agentResourcesOverFakes),
  Layer.provideMerge(providerFakesLayer),
  Layer.provideMerge(poolConfigLayer()),
  Layer.provideMerge(TestDatabase),
)

/** The same, as a runtime. */
export const poolOverProviderFakes = () => ManagedRuntime.make(poolLayerOverProviderFakes)

/** Serves the pool API of `runtime` on 127.0.0.1 (a free port). */
export const serveApi = (runtime: ManagedRuntime.ManagedRuntime<any, any>, apiKey: string) =>
  new Promise<{ base: string; close: () => Promise<void> }>((resolve) => {
    const app = makeApiApp(runtime, { apiKey })
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
      resolve({ base: `http://127.0.0.1:${info.port}`, close: () => new Promise((r) => server.close(() => r())) }),
    )
  })

/** For a test file: one API server started before its tests (signed in to /admin) and stopped after them. */
export const useSignedInApi = () => {
  const held = { api: undefined as unknown as ApiServer, session: "" }
  beforeAll(async () => {
    held.api = await startApi()
    held.session = await held.api.session()
  })
  afterAll(async () => {
    await held.api?.close()
  })
  return held
}

/** Server-Sent Events of a response body: each event's name and parsed JSON data. */
export const sseEvents = (text: string) =>
  text
    .split("\n\n")
    .filter((block) => block.trim().length > 0)
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message"
      const data = block
        .split("\n")
        .filter((l) => l.startsWith("data: "))
        .map((l) => l.slice(6))
        .join("\n")
      return { event, data: JSON.parse(data) as Record<string, unknown> }
    })
