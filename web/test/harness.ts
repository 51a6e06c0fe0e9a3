// Starts the web catalog for tests: a real devnet, a pool of devnet agents (fixtures/devnetAgents.ts), a manager
// identity with a real lobby-style invite, and the app on 127.0.0.1 with a free port (real HTTP, @hono/node-server).
import { serve, type ServerType } from "@hono/node-server"
import { Effect, Exit, Layer, ManagedRuntime, Scope } from "effect"
import { Hono } from "hono"
import { Pool } from "@convos-agents/pool-core"
import type { PoolSettings } from "@convos-agents/pool-core"
import { generateIdentity, Messaging } from "@convos-agents/messaging"
import { DevnetTest } from "@convos-agents/messaging/devnet/testing"
import { createInviteSlug, encodeMetadata, randomTag, serveJoinRequests } from "@convos-agents/messaging/convos"
import { makeWebApp, webDepsFromContext, type Network, type RateLimitOptions } from "../src/index.ts"
import { DevnetAgentPool } from "./fixtures/devnetAgents.ts"

export const MANAGER_GREETING = "Welcome! I am the agent manager. Send /help."

export interface Harness {
  readonly url: string
  readonly managerInvite: string
  readonly run: <A, E>(effect: Effect.Effect<A, E, Pool | Messaging>) => Promise<A>
  /** Creates n idle agents (replenish + one tick). */
  readonly fillPool: (n: number) => Promise<void>
  readonly stop: () => Promise<void>
}

export interface HarnessOptions {
  readonly network?: Network
  readonly rateLimit?: RateLimitOptions
  readonly idle?: number
  /** "runtime": mount the way server/src/http.ts does (parent Hono, makeWebApp({ runtime, bot })). */
  readonly mount?: "context" | "runtime"
  /** TRUST_PROXY hops of the web app (default 0). */
  readonly trustProxy?: number
  /** Pool settings (quotas …) over the fixture's. */
  readonly settings?: Partial<PoolSettings>
  /** Whether agents can search the web (OpenRouter configured); default true. */
  readonly webSearch?: boolean
}

const listen = (fetch: (req: Request) => Response | Promise<Response>) =>
  new Promise<{ server: ServerType; port: number }>((resolve, reject) => {
    const server = serve({ fetch, port: 0, hostname: "127.0.0.1" }, (info) => resolve({ server, port: info.port }))
    server.once("error", reject)
  })

export const startHarness = async (options: HarnessOptions = {}): Promise<Harness> => {
  let base = "http://127.0.0.1:0"
  const runtime = ManagedRuntime.make(
    DevnetAgentPool(() => `${base}/v2?i=`, options.settings, options.webSearch ?? true).pipe(
      Layer.provideMerge(DevnetTest),
    ),
  )
  const scope = await Effect.runPromise(Scope.make())
  const run = <A, E>(effect: Effect.Effect<A, E, Pool | Messaging>) => runtime.runPromise(effect)
  let server: ServerType | null = null
  try {
    // The devnet-side address is known only once the server listens: start it with a late-bound handler.
    let handler: (req: Request) => Response | Promise<Response> = () => new Response("starting", { status: 503 })
    const started = await listen((req) => handler(req))
    server = started.server
    base = `http://127.0.0.1:${started.port}`

    const managerInvite = await runtime.runPromise(
      Effect.gen(function* () {
        const messaging = yield* Messaging
        const me = generateIdentity()
        const client = yield* messaging.connect(me, { label: "manager" })
        const tag = randomTag()
        const lobby = yield* client.createGroup([], { name: "Agent manager", appData: encodeMetadata({ tag }) })
        yield* Effect.forkIn(
          serveJoinRequests(client, me, { onJoined: ({ groupId }) => client.sendText(groupId, MANAGER_GREETING) }),
          scope,
        )
        return `${base}/v2?i=${createInviteSlug(me, { conversationId: lobby.id, tag, name: "Agent manager" })}`
      }).pipe(Scope.provide(scope)),
    )
    if (options.mount === "runtime") {
      const parent = new Hono()
      parent.get("/api/ping", (c) => c.json({ ok: true }))
      parent.route(
        "/",
        makeWebApp({
          runtime,
          bot: { inviteUrl: (slug) => (slug ? `${managerInvite}&template=${slug}` : managerInvite) },
        }),
      )
      handler = (req) => parent.fetch(req)
    } else {
      const deps = await runtime.runPromise(
        webDepsFromContext({
          network: options.network ?? "devnet",
          managerInviteUrl: () => managerInvite,
          ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
          ...(options.trustProxy !== undefined ? { trustProxy: options.trustProxy } : {}),
          chat: { joinTimeoutMs: 10_000 },
        }).pipe(Scope.provide(scope)),
      )
      const app = makeWebApp(deps)
      handler = (req) => app.fetch(req)
    }

    const fillPool = (n: number) =>
      run(
        Effect.gen(function* () {
          const pool = yield* Pool
          yield* pool.replenish(n)
          yield* pool.tick
          const counts = yield* pool.counts
          if (counts.idle < n)
            return yield* Effect.die(new Error(`pool has ${counts.idle} idle agents after replenish(${n}) + tick`))
        }),
      )
    if (options.idle) await fillPool(options.idle)

    const stop = async () => {
      await new Promise<void>((resolve) => server!.close(() => resolve()))
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await runtime.dispose()
    }
    return { url: base, managerInvite, run, fillPool, stop }
  } catch (e) {
    server?.close()
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await runtime.dispose()
    throw e
  }
}
