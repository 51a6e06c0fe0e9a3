import { serve } from "@hono/node-server"
import type { ManagedRuntime } from "effect"
import { Hono } from "hono"
import { makeApiApp } from "@convos-agents/pool-core/api/index.ts"
import { makeWebApp } from "@convos-agents/web/src/index.ts"
import type { ManagerBotInfo } from "./ManagerBot.ts"

// One HTTP server on loopback (PORT, default 8080): the pool API and admin page, then the web catalog (mounted last:
// it ends with a catch-all page).

export const startHttp = async (runtime: ManagedRuntime.ManagedRuntime<any, any>, bot: ManagerBotInfo & { network: string; compute: string }, apiKey: string) => {
  const app = new Hono()
  app.get("/healthz", (c) => c.json({ ok: true }))
  app.route("/", makeApiApp(runtime, { apiKey, info: () => ({ version: "0.1.0", network: bot.network, compute: bot.compute }) }))
  app.route("/", makeWebApp({ runtime, bot }))
  const port = Number(process.env.PORT ?? 8080)
  const host = process.env.HOST ?? "127.0.0.1"
  return await new Promise<{ url: string; close: () => Promise<void> }>((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname: host }, (info) =>
      resolve({
        url: `http://${host}:${info.port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      })
    )
    server.once("error", (e: Error) => reject(new Error(`Cannot listen on ${host}:${port} (${e.message}). Set PORT to a free port.`)))
  })
}
