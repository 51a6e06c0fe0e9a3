import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { defaultImageFetch, fetchImage, isPrivateAddress, sniffImageType } from "../avatar/fetchImage.ts"

// The checks behind /avatar's fetch (pool/avatar/fetchImage.ts), case by case: which addresses count as not public,
// which bytes count as a picture, and the time limit. server/test/avatar.test.ts runs the whole command.

describe("avatar fetch: addresses a stranger's URL may not reach", () => {
  it("loopback, private, link-local, shared, reserved, multicast and IPv6 forms of them are private; public ones are not", () => {
    for (const a of [
      "127.0.0.1",
      "127.255.0.9",
      "0.0.0.0",
      "10.1.2.3",
      "100.64.0.1",
      "169.254.169.254",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "198.18.0.1",
      "224.0.0.1",
      "255.255.255.255",
      "::",
      "::1",
      "::ffff:127.0.0.1",
      "::ffff:10.0.0.1",
      "64:ff9b::a00:1",
      "fc00::1",
      "fd12:3456::1",
      "fe80::1",
      "ff02::1",
      "not-an-ip",
    ])
      assert.isTrue(isPrivateAddress(a), a)
    for (const a of ["1.1.1.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "2001:4860::8888"])
      assert.isFalse(isPrivateAddress(a), a)
  })

  it("a picture is PNG, JPEG, GIF or WebP by its first bytes, whatever the server calls it", () => {
    const b = (...xs: number[]) => Uint8Array.from([...xs, ...new Array(16).fill(0)])
    assert.strictEqual(sniffImageType(b(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)), "image/png")
    assert.strictEqual(sniffImageType(b(0xff, 0xd8, 0xff, 0xe0)), "image/jpeg")
    assert.strictEqual(sniffImageType(new TextEncoder().encode("GIF89a......")), "image/gif")
    assert.strictEqual(sniffImageType(new TextEncoder().encode("RIFF\u0000\u0000\u0000\u0000WEBPVP8 ")), "image/webp")
    assert.isNull(sniffImageType(new TextEncoder().encode("<svg xmlns='http://www.w3.org/2000/svg'/>")))
    assert.isNull(sniffImageType(new TextEncoder().encode("RIFF\u0000\u0000\u0000\u0000WAVEfmt ")))
    assert.isNull(sniffImageType(new Uint8Array(0)))
  })

  it.live("a server that never answers is given up on at the time limit, with a line saying what to do", () =>
    Effect.gen(function* () {
      const server = createServer(() => {}) // accepts, never answers
      yield* Effect.promise(() => new Promise<void>((r) => server.listen(0, "127.0.0.1", r)))
      const port = (server.address() as AddressInfo).port
      const started = Date.now()
      const error = yield* fetchImage(`http://127.0.0.1:${port}/slow.png`, {
        ...defaultImageFetch,
        allowPrivate: [`127.0.0.1:${port}`],
        timeout: Duration.millis(300),
      }).pipe(Effect.flip)
      server.closeAllConnections()
      server.close()
      assert.strictEqual(
        error.message,
        "The image link did not answer within 300ms; send a link to a faster host, or try again later.",
      )
      assert.isBelow(Date.now() - started, 10_000)
    }),
  )

  it.live(
    "a host name is resolved in the connection's own lookup: allowed by name it connects, else it is refused",
    () =>
      Effect.gen(function* () {
        const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4])
        const server = createServer((_req, res) => res.end(Buffer.from(png)))
        yield* Effect.promise(() => new Promise<void>((r) => server.listen(0, "127.0.0.1", r)))
        const port = (server.address() as AddressInfo).port
        const got = yield* fetchImage(`http://localhost:${port}/a.png`, {
          ...defaultImageFetch,
          allowPrivate: [`localhost:${port}`],
        })
        assert.deepStrictEqual(got, { bytes: png, contentType: "image/png" })
        const refused = yield* fetchImage(`http://localhost:${port}/a.png`, defaultImageFetch).pipe(Effect.flip)
        server.close()
        assert.strictEqual(
          refused.message,
          "That link points into a private network (localhost), which I do not fetch from; send a link to a picture on the public web.",
        )
      }),
  )
})
