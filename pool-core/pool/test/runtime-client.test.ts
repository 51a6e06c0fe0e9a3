// The pool's HTTP client of the runtime contract against loopback servers: the instance token goes only where asked
// for, and an instance that answers without end (broken or hostile) cannot make the pool buffer it.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { Duration, Effect } from "effect"
import { MAX_RUNTIME_RESPONSE_BYTES, makeRuntimeClient } from "../RuntimeClientLive.ts"

const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()))
})

const serve = async (handler: Parameters<typeof createServer>[1]) => {
  const server = createServer(handler)
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const client = makeRuntimeClient({ healthTimeout: Duration.seconds(20), provisionTimeout: Duration.seconds(20) })

describe("RuntimeClientLive", () => {
  it("health sends the instance token only when given one, and reads the conversation only then", async () => {
    const seen: Array<IncomingHttpHeaders> = []
    const url = await serve((req, res) => {
      seen.push(req.headers)
      res.setHeader("content-type", "application/json")
      res.end(
        JSON.stringify(
          req.headers.authorization === "Bearer tok-1"
            ? { ready: true, version: "1", conversationId: "c1", inviteUrl: "https://i/x" }
            : { ready: true, version: "1" },
        ),
      )
    })
    const open = await Effect.runPromise(client.health(url))
    expect(open).toEqual({ ready: true, version: "1" })
    expect(seen[0]!.authorization).toBeUndefined()
    const withToken = await Effect.runPromise(client.health(url, "tok-1"))
    expect(withToken).toMatchObject({ conversationId: "c1", inviteUrl: "https://i/x" })
    expect(seen[1]!.authorization).toBe("Bearer tok-1")
  })

  it.each(["health", "provision"] as const)(
    "%s: an endless answer is cut at the size limit, with an error that says what to do",
    async (operation) => {
      let closed = false
      const url = await serve((req, res) => {
        req.resume()
        res.writeHead(200, { "content-type": "application/json" })
        const chunk = Buffer.alloc(64 * 1024, 0x20)
        const pump = () => {
          while (!closed && res.write(chunk));
          if (!closed) res.once("drain", pump)
        }
        res.on("close", () => (closed = true))
        res.write('{"ready":true,"version":"')
        pump()
      })
      const run: Effect.Effect<unknown, { message: string }> =
        operation === "health" ? client.health(url) : client.provision(url, "tok", { agentName: "A", instructions: "" })
      const error = await Effect.runPromise(Effect.flip(run))
      expect(error.message).toContain(`more than ${MAX_RUNTIME_RESPONSE_BYTES} bytes`)
      expect(error.message).toContain("kill it")
      // The pool stopped reading and closed the connection: the server is not still writing into it.
      await Effect.runPromise(
        Effect.promise(async () => {
          for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 20))
        }),
      )
      expect(closed).toBe(true)
    },
  )

  it("a declared content-length over the limit is refused before reading the body", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": String(MAX_RUNTIME_RESPONSE_BYTES + 1),
      })
      res.write("{")
    })
    const error = await Effect.runPromise(Effect.flip(client.health(url)))
    expect(error.message).toContain(`more than ${MAX_RUNTIME_RESPONSE_BYTES} bytes`)
  })

  it("answers within the limit still decode", async () => {
    const url = await serve((_req, res) => {
      res.setHeader("content-type", "application/json")
      res.end(
        JSON.stringify({
          conversationId: "c2",
          inviteUrl: null,
          joined: false,
          padding: "x".repeat(MAX_RUNTIME_RESPONSE_BYTES - 200),
        }),
      )
    })
    const r = await Effect.runPromise(client.provision(url, "tok", { agentName: "A", instructions: "" }))
    expect(r.conversationId).toBe("c2")
  })
})
