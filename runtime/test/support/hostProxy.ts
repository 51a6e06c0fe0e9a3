// A loopback forward proxy for tests: every request for one of `hosts` (CONNECT tunnels and absolute-form HTTP
// requests alike) is sent to a loopback port, the way a DNS name would reach a public server. OpenClaw fetches web
// search providers only on their own public hostname (loopback and private addresses are refused) but honours an
// HTTP(S)_PROXY, so a test points the agent at a made-up OpenRouter host and this proxy delivers it to the fake.
import { createServer, request, type Server } from "node:http"
import { connect } from "node:net"
import type { AddressInfo } from "node:net"

export interface HostProxy {
  readonly url: string
  /** "host:port" of every tunnel or request asked for, in order. */
  readonly asked: Array<string>
  readonly close: () => Promise<void>
}

export const startHostProxy = async (hosts: Readonly<Record<string, number>>): Promise<HostProxy> => {
  const asked: Array<string> = []
  const portFor = (host: string) => hosts[host.replace(/:\d+$/, "")]
  const server: Server = createServer((req, res) => {
    const target = new URL(req.url ?? "/", "http://invalid")
    asked.push(target.host)
    const port = portFor(target.hostname)
    if (!port) return void res.writeHead(502).end(`no route to ${target.host}`)
    const upstream = request(
      { host: "127.0.0.1", port, method: req.method, path: target.pathname + target.search, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        up.pipe(res)
      },
    )
    upstream.on("error", () => res.destroy())
    req.pipe(upstream)
  })
  server.on("connect", (req, socket, head) => {
    asked.push(req.url ?? "")
    const port = portFor(req.url ?? "")
    if (!port) return void socket.end("HTTP/1.1 502 Bad Gateway\r\n\r\n")
    const upstream = connect(port, "127.0.0.1", () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n")
      if (head.length > 0) upstream.write(head)
      upstream.pipe(socket)
      socket.pipe(upstream)
    })
    upstream.on("error", () => socket.destroy())
    socket.on("error", () => upstream.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    asked,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
