import { request } from "node:http"
import { describe, expect, it } from "vitest"
import { postChunked } from "./chunked.ts"
import { useSignedInApi } from "./server.ts"

// Body size limits are enforced while the body streams in: an endless chunked upload (no Content-Length) gets its
// 413 as soon as 64 KB have arrived, on the JSON API and on the admin forms alike.

const server = useSignedInApi()

const expectQuick413 = (r: Awaited<ReturnType<typeof postChunked>>) => {
  // Answered before the upload ended: the server stopped reading long before the 256 MB would have been sent (once it
  // stops reading, only the socket buffers take more). That is the proof of "quick", in bytes rather than ms.
  expect(r.status).toBe(413)
  expect(r.sent).toBeLessThan(32 * 1024 * 1024)
  expect(r.headers.connection).toBe("close")
}

describe("body limits on a chunked upload", () => {
  it("JSON API: an endless chunked body gets 413 with a JSON error right after the limit", async () => {
    for (const path of ["/api/pool/claim", "/api/pool/replenish", "/api/pool/drain"]) {
      const r = await postChunked(`${server.api.base}${path}`, {
        headers: server.api.auth,
        prefix: '{"instructions":"',
      })
      expectQuick413(r)
      expect(JSON.parse(r.body)).toMatchObject({
        field: "body",
        error: expect.stringContaining("Body too large (limit 65536 bytes)"),
      })
    }
    // The server is fine afterwards.
    expect((await fetch(`${server.api.base}/healthz`)).status).toBe(200)
  })

  it("admin forms: sign-in and the action buttons answer 413 the same way", async () => {
    const form = { "content-type": "application/x-www-form-urlencoded", origin: server.api.base }
    const login = await postChunked(`${server.api.base}/admin/login`, { headers: form, prefix: "key=" })
    expectQuick413(login)
    expect(login.body).toContain("Body too large")
    const action = await postChunked(`${server.api.base}/admin/actions/replenish`, {
      headers: { ...form, cookie: server.session },
      prefix: "count=",
    })
    expectQuick413(action)
    expect(action.body).toContain("Body too large")
  })

  it("a declared Content-Length over the limit is refused before any body is read", async () => {
    const r = await new Promise<{ status: number }>((resolve, reject) => {
      const req = request(`${server.api.base}/api/pool/claim`, {
        method: "POST",
        headers: { ...server.api.auth, "content-length": String(1024 * 1024 * 1024) },
      })
      req.on("response", (res) => {
        res.resume()
        resolve({ status: res.statusCode ?? 0 })
        req.destroy()
      })
      req.on("error", reject)
      req.write("{")
    })
    // Answered with 1 byte of the 1 GB sent: a server waiting for the body would never answer.
    expect(r.status).toBe(413)
  })

  it("a chunked body under the limit is read whole and handled", async () => {
    const bytes = new TextEncoder().encode(JSON.stringify({ count: 1 }))
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        for (const b of bytes) c.enqueue(new Uint8Array([b]))
        c.close()
      },
    })
    const res = await fetch(`${server.api.base}/api/pool/replenish`, {
      method: "POST",
      headers: server.api.auth,
      body,
      duplex: "half",
    } as RequestInit)
    expect(res.status).toBe(200)
    expect((await res.json()).created).toHaveLength(1)
  })
})
