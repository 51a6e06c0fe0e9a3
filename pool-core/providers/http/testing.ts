import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"

// A loopback HTTP server standing in for a provider API in tests. Every request is recorded (method, path, headers,
// parsed body) so a test can check each one; `handle` answers like the real API and may inject 429/500/slow/garbage.

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly body: unknown
}

export interface Reply {
  readonly status?: number
  readonly json?: unknown
  /** Raw body (malformed answers, or bytes such as Docker's multiplexed log stream); wins over json. */
  readonly raw?: string | Uint8Array
  readonly headers?: Readonly<Record<string, string>>
  /** Wait this long before answering (timeouts). */
  readonly delayMs?: number
}

export type Handler = (req: RecordedRequest, nth: number) => Reply | Promise<Reply>

export interface FakeApi {
  readonly url: string
  readonly requests: Array<RecordedRequest>
  setHandler(handler: Handler): void
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    let data = ""
    req.setEncoding("utf8")
    req.on("data", (c: string) => (data += c))
    req.on("end", () => resolve(data))
    req.on("error", reject)
  })

/** Starts the server on 127.0.0.1:0 for the scope; stops it (and drops open sockets) on close. */
export const fakeApi = (initial: Handler) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      let handler = initial
      const requests: Array<RecordedRequest> = []
      const timers = new Set<NodeJS.Timeout>()
      const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
        const text = await readBody(req)
        let body: unknown = text
        try {
          body = text === "" ? undefined : JSON.parse(text)
        } catch {
          /* keep the raw text */
        }
        const recorded: RecordedRequest = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body }
        requests.push(recorded)
        const reply = await handler(recorded, requests.length)
        const send = () => {
          if (res.destroyed) return
          res.writeHead(reply.status ?? 200, { "content-type": "application/json", ...reply.headers })
          res.end(reply.raw ?? (reply.json === undefined ? "" : JSON.stringify(reply.json)))
        }
        if (reply.delayMs) {
          const t = setTimeout(() => {
            timers.delete(t)
            send()
          }, reply.delayMs)
          timers.add(t)
        } else send()
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      const { port } = server.address() as AddressInfo
      const api: FakeApi = { url: `http://127.0.0.1:${port}`, requests, setHandler: (h) => void (handler = h) }
      return { server, api, timers }
    }),
    ({ server, timers }) =>
      Effect.promise(
        () =>
          new Promise<void>((resolve) => {
            for (const t of timers) clearTimeout(t)
            server.closeAllConnections()
            server.close(() => resolve())
          }),
      ),
  ).pipe(Effect.map(({ api }) => api))
