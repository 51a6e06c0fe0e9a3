import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { serve } from "@hono/node-server"
import type { ManagedRuntime } from "effect"
import { Hono } from "hono"
import type { ManagerBotInfo } from "./ManagerBot.ts"

// One HTTP server on loopback (PORT, default 8080): the pool API and admin (pool-core/api) and the web catalog (web/),
// each mounted when present.

const root = new URL("../../", import.meta.url)
const has = (path: string) => existsSync(fileURLToPath(new URL(path, root)))

export const startHttp = async (runtime: ManagedRuntime.ManagedRuntime<any, any>, bot: ManagerBotInfo & { network: string; compute: string }, apiKey: string) => {
  const app = new Hono()
  app.get("/healthz", (c) => c.json({ ok: true }))
  if (has("pool-core/api/index.ts")) {
    const api = await import(new URL("pool-core/api/index.ts", root).href)
    app.route("/", api.makeApiApp(runtime, { apiKey, info: () => ({ version: "0.1.0", network: bot.network, compute: bot.compute }) }))
  }
  if (has("web/src/index.ts")) {
    const web = await import(new URL("web/src/index.ts", root).href)
    app.route("/", web.makeWebApp({ runtime, bot }))
  }
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
