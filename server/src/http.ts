import { serve } from "@hono/node-server"
import { Config, Effect, type ManagedRuntime } from "effect"
import { Hono } from "hono"
import { InvalidConfig } from "@convos-agents/pool-core"
import { loadTrustProxy } from "@convos-agents/pool-core/api/edge"
import { makeApiApp } from "@convos-agents/pool-core/api"
import { makeWebApp } from "@convos-agents/web"
import type { ManagerBotInfo } from "@convos-agents/manager-bot"

// One HTTP server (HOST, default 127.0.0.1; PORT, default 8080): the pool API and admin page, then the web catalog
// (mounted last: it ends with a catch-all page). HOST and PORT are read with effect `Config`; a bad value fails at
// start with a message naming the variable.

export interface HttpSettings {
  readonly host: string
  readonly port: number
  /** TRUST_PROXY: proxy hops in front of this server (pool-core/api/edge.ts), for client IPs and https detection. */
  readonly trustProxy: number
}

const bad = (variable: string, message: string) =>
  new InvalidConfig({ variable, message: `${message} See .env.example.` })

const portConfig = Config.String("PORT").pipe(
  Config.withDefault("8080"),
  Effect.mapError((e) => bad("PORT", `PORT could not be read: ${e.message}.`)),
  Effect.flatMap((raw) => {
    const text = raw.trim()
    const n = Number(text)
    return /^\d{1,5}$/.test(text) && n <= 65_535
      ? Effect.succeed(n)
      : Effect.fail(
          bad("PORT", `PORT must be a TCP port number from 0 to 65535 (0 = any free port); got "${raw.slice(0, 40)}".`),
        )
  }),
)

const hostConfig = Config.String("HOST").pipe(
  Config.withDefault("127.0.0.1"),
  Effect.mapError((e) => bad("HOST", `HOST could not be read: ${e.message}.`)),
  Effect.flatMap((raw) => {
    const host = raw.trim()
    return /^(?:[A-Za-z0-9.-]{1,253}|\[?[0-9A-Fa-f:.]{2,45}\]?)$/.test(host)
      ? Effect.succeed(host.replace(/^\[(.*)\]$/, "$1"))
      : Effect.fail(
          bad(
            "HOST",
            `HOST must be an address or host name to listen on, e.g. 127.0.0.1 (loopback) or 0.0.0.0 (all interfaces); got "${raw.slice(0, 60)}".`,
          ),
        )
  }),
)

/** HOST and PORT of the web/API server. */
export const httpSettings: Effect.Effect<HttpSettings, InvalidConfig> = Effect.all({
  host: hostConfig,
  port: portConfig,
  trustProxy: loadTrustProxy,
})

export const startHttp = async (
  runtime: ManagedRuntime.ManagedRuntime<any, any>,
  bot: ManagerBotInfo & { network: string; compute: string },
  apiKey: string,
  settings: HttpSettings,
) => {
  const { host, port, trustProxy } = settings
  const app = new Hono()
  app.get("/healthz", (c) => c.json({ ok: true }))
  app.route("/", makeApiApp(runtime, { apiKey, trustProxy, info: () => ({ network: bot.network }) }))
  app.route("/", makeWebApp({ runtime, bot, trustProxy }))
  return await new Promise<{ url: string; close: () => Promise<void> }>((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname: host }, (info) =>
      resolve({
        url: `http://${host.includes(":") ? `[${host}]` : host}:${info.port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      }),
    )
    server.once("error", (e: Error) =>
      reject(
        new Error(
          `Cannot listen on ${host}:${port} (${e.message}). Set PORT to a free port (or HOST to an address of this machine).`,
        ),
      ),
    )
  })
}
