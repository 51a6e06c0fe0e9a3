// What the two-replica soak test runs besides the people: manager replicas as child processes (./manager.ts), the
// loopback OpenRouter keys API both of them use, SQL on the soak's schema, and the pool API.
import { type ChildProcess, spawn } from "node:child_process"
import { createServer, type Server } from "node:http"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { pgClientLayer } from "../../../pool-core/db/Database.ts"
import { openRouterApi } from "@convos-agents/pool-core/testing/openrouter"

const managerEntry = fileURLToPath(new URL("./manager.ts", import.meta.url))

export const API_KEY = "soak-api-key-0123456789abcdef"

export interface Replica {
  readonly name: string
  readonly child: ChildProcess
  readonly url: string
  readonly replicaId: string
  readonly invite: string
  readonly output: () => string
}

/** Starts one manager replica; resolves once it serves ("READY …"). The timer only guards against a hang. */
export const startReplica = (name: string, env: Record<string, string>) =>
  new Promise<Replica>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", managerEntry], { env, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 4 minutes: ${out}`)), 240_000)
    child.stdout!.on("data", (d) => {
      out += d
      const m = /READY (\S+) (\S+) (\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve({ name, child, url: m[1]!, replicaId: m[2]!, invite: m[3]!, output: () => out })
      }
    })
    child.stderr!.on("data", (d) => (out += d))
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready: ${out}`))
    })
  })

export const exited = (child: ChildProcess) =>
  new Promise<void>((r) => (child.exitCode !== null || child.signalCode ? r() : child.once("exit", () => r())))

/** The OpenRouter keys API (the loopback fake, checked against OpenRouter's published reference) over HTTP. */
export const startFakeOpenRouter = async () => {
  const api = openRouterApi()
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const text = Buffer.concat(chunks).toString("utf8")
    const reply = api.handle({
      method: req.method ?? "",
      path: req.url ?? "",
      headers: req.headers,
      body: text ? JSON.parse(text) : undefined,
    })
    res.writeHead(reply.status ?? 200, { "content-type": "application/json" })
    res.end(JSON.stringify(reply.json ?? {}))
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  return {
    origin: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    api,
    close: () => {
      server.closeAllConnections()
      return new Promise<void>((r) => server.close(() => r()))
    },
  }
}

/** The URL both replicas (and the test's own queries) use: the server's, with the soak's schema as search_path. */
export const schemaUrl = (url: string, schema: string) =>
  `${url}${url.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`

/** One query on `url` (a connection of its own, in `schema` if given); rows as the pool's SQL client maps them (camelCase). */
export const query = <A extends object>(
  url: string,
  schema: string | null,
  text: string,
  params: ReadonlyArray<unknown> = [],
) =>
  Effect.runPromise(
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<A>(text, params as Array<unknown>)).pipe(
      Effect.provide(pgClientLayer(url, 1, schema ? { search_path: schema } : undefined)),
      Effect.scoped,
    ),
  )

export interface ApiAnswer {
  readonly status: number
  readonly body: Record<string, unknown>
}

/** A pool API call; null when the replica did not answer (killed, or not up). */
export const api = async (
  base: string,
  method: string,
  path: string,
  body?: unknown,
  key?: string,
): Promise<ApiAnswer | null> => {
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${API_KEY}`,
        "content-type": "application/json",
        "x-client-label": "soak",
        ...(key ? { "idempotency-key": key } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  } catch {
    return null
  }
}
