// A loopback TCP relay that a test can switch off: every open connection through it is cut and new ones are refused
// (closed at once) until it is switched on again. Put in front of a database URL, it is a real outage as the client
// sees one: broken sockets, failed reconnects, then the same server back.
import { createServer, connect, type Socket } from "node:net"
import { Effect } from "effect"

export interface TcpSwitch {
  /** host:port of the relay (give it to the client instead of the real address). */
  readonly port: number
  /** Cuts every connection and refuses new ones. */
  readonly off: () => void
  readonly on: () => void
  /** Connections refused while off (shows the client really tried). */
  readonly refused: () => number
}

/** Starts the relay to `target` for the scope; closed (and every connection cut) when the scope closes. */
export const tcpSwitch = (target: { readonly host: string; readonly port: number }) =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<TcpSwitch & { close: () => Promise<void> }>((resolve, reject) => {
          let up = true
          let refused = 0
          const open = new Set<Socket>()
          const server = createServer((client) => {
            if (!up) {
              refused++
              client.destroy()
              return
            }
            const upstream = connect(target.port, target.host)
            open.add(client)
            open.add(upstream)
            const drop = () => {
              client.destroy()
              upstream.destroy()
              open.delete(client)
              open.delete(upstream)
            }
            client.on("error", drop).on("close", drop)
            upstream.on("error", drop).on("close", drop)
            client.pipe(upstream)
            upstream.pipe(client)
          })
          server.once("error", reject)
          server.listen(0, "127.0.0.1", () =>
            resolve({
              port: (server.address() as { port: number }).port,
              off: () => {
                up = false
                for (const s of open) s.destroy()
                open.clear()
              },
              on: () => void (up = true),
              refused: () => refused,
              close: () =>
                new Promise<void>((done) => {
                  for (const s of open) s.destroy()
                  server.close(() => done())
                }),
            }),
          )
        }),
    ),
    (relay) => Effect.promise(() => relay.close()),
  ).pipe(Effect.map(({ close: _close, ...relay }) => relay as TcpSwitch))

/** The same connection URL, pointed at the relay. */
export const throughSwitch = (url: string, relay: TcpSwitch): string => {
  const u = new URL(url)
  u.hostname = "127.0.0.1"
  u.port = String(relay.port)
  return u.toString()
}
