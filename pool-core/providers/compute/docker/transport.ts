import { request as httpRequest } from "node:http"

// DOCKER_HOST as the Docker CLI reads it: unix:///path/to.sock (the default, /var/run/docker.sock; podman serves the
// same API with `podman system service unix://…`), tcp://host:port (plain HTTP) or an http(s):// URL. Node's fetch
// cannot reach a unix socket, so for unix:// requests go through node:http with `socketPath`, behind a fetch-shaped
// function: the provider HTTP client (timeouts, retries, redaction) stays the same for every engine address.

export interface DockerTransport {
  /** Base URL requests are made against (for a unix socket: a placeholder host; the socket carries them). */
  readonly baseUrl: string
  /** What to show a person: the DOCKER_HOST as given. */
  readonly describe: string
  readonly fetch: typeof fetch
}

export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"

/** Why a DOCKER_HOST cannot be used, in words that say what to set; null when it can. */
export const dockerHostProblem = (host: string): string | null =>
  /^unix:\/\/\/\S+$/.test(host) || /^tcp:\/\/[^\s/]+:\d+\/?$/.test(host) || /^https?:\/\/[^\s/]+(:\d+)?\/?$/.test(host)
    ? null
    : `DOCKER_HOST must be unix:///path/to/docker.sock, tcp://host:port or http(s)://host:port (got "${host}"); for podman: podman system service --time=0 unix:///run/podman/podman.sock and DOCKER_HOST=unix:///run/podman/podman.sock.`

/** A fetch over a unix socket (only what the provider client uses: method, headers, string body, abort signal). */
const unixSocketFetch = (socketPath: string): typeof fetch =>
  (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    const headers = Object.fromEntries(new Headers(init?.headers).entries())
    const body = typeof init?.body === "string" ? init.body : undefined
    return new Promise<Response>((resolve, reject) => {
      const req = httpRequest(
        {
          socketPath,
          method: init?.method ?? "GET",
          path: `${url.pathname}${url.search}`,
          headers: {
            ...headers,
            host: "docker",
            ...(body === undefined ? {} : { "content-length": String(Buffer.byteLength(body)) }),
          },
          signal: init?.signal ?? undefined,
        },
        (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (c: Buffer) => chunks.push(c))
          res.on("error", reject)
          res.on("end", () => {
            const status = res.statusCode ?? 502
            const noBody = status === 204 || status === 304
            const answerHeaders = new Headers()
            for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") answerHeaders.set(k, v)
            resolve(new Response(noBody ? null : Buffer.concat(chunks), { status, headers: answerHeaders }))
          })
        },
      )
      req.on("error", reject)
      req.end(body)
    })
  }) as typeof fetch

/** The transport for a DOCKER_HOST (check it with dockerHostProblem first). */
export const dockerTransport = (host: string): DockerTransport => {
  if (host.startsWith("unix://"))
    return { baseUrl: "http://docker", describe: host, fetch: unixSocketFetch(host.slice("unix://".length)) }
  const base = host.startsWith("tcp://") ? `http://${host.slice("tcp://".length)}` : host
  return { baseUrl: base.replace(/\/+$/, ""), describe: host, fetch: (input, init) => fetch(input, init) }
}
