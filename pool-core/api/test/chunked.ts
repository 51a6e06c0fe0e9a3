import { request } from "node:http"

// A real HTTP upload on loopback with Transfer-Encoding: chunked and no Content-Length, that keeps sending until the
// server answers (or `maxBytes` were sent): a server that buffers the whole body before checking its size never
// answers it. Used by the API and web body-limit tests.

export interface ChunkedResult {
  /** The response status, or "timeout" when none came within `timeoutMs`. */
  readonly status: number | "timeout"
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
  readonly ms: number
  /** Bytes handed to the socket before the answer came. */
  readonly sent: number
}

export interface ChunkedOptions {
  readonly method?: string
  readonly headers?: Record<string, string>
  /** Bytes of the body before the endless filler (e.g. `{"instructions":"`). */
  readonly prefix?: string
  /** Stop sending after this many bytes (default: 256 MB, i.e. endless next to a 64 KB limit). */
  readonly maxBytes?: number
  readonly timeoutMs?: number
}

export const postChunked = (url: string, options: ChunkedOptions = {}): Promise<ChunkedResult> =>
  new Promise((resolve) => {
    const started = Date.now()
    const maxBytes = options.maxBytes ?? 256 * 1024 * 1024
    const chunk = Buffer.alloc(16 * 1024, "x")
    let sent = 0
    let answered = false
    const req = request(url, {
      method: options.method ?? "POST",
      headers: { ...options.headers, "transfer-encoding": "chunked" },
    })
    const finish = (r: ChunkedResult) => {
      if (answered) return
      answered = true
      clearTimeout(timer)
      req.destroy()
      resolve(r)
    }
    // A guard against a server that never answers, not a performance bound (tests judge by bytes sent).
    const timer = setTimeout(
      () => finish({ status: "timeout", headers: {}, body: "", ms: Date.now() - started, sent }),
      options.timeoutMs ?? 60_000,
    )
    req.on("response", (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (d: string) => (body += d))
      res.on("end", () =>
        finish({ status: res.statusCode ?? 0, headers: res.headers, body, ms: Date.now() - started, sent }),
      )
      res.on("error", () =>
        finish({ status: res.statusCode ?? 0, headers: res.headers, body, ms: Date.now() - started, sent }),
      )
    })
    req.on("error", () => finish({ status: "timeout", headers: {}, body: "", ms: Date.now() - started, sent }))
    if (options.prefix) {
      req.write(options.prefix)
      sent += Buffer.byteLength(options.prefix)
    }
    const pump = () => {
      while (!answered && sent < maxBytes) {
        sent += chunk.length
        if (!req.write(chunk)) return void req.once("drain", pump)
      }
      if (!answered && sent >= maxBytes) req.end()
    }
    pump()
  })
