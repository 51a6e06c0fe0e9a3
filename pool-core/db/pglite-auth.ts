// Password authentication in front of the embedded PGlite server. PGlite itself trusts every connection, and the
// server listens on loopback, where every local process (an agent included) can reach it. So each connection must
// first pass a Postgres MD5 password exchange (a fresh random salt per connection: the password never crosses the
// socket) before its startup message reaches PGlite, which then answers AuthenticationOk as usual.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import type { Socket } from "node:net"

const SSL_REQUEST = 80877103
const CANCEL_REQUEST = 80877102
const PROTOCOL_3 = 196608
/** A client that has not authenticated within this time is dropped. */
const AUTH_TIMEOUT_MS = 10_000
/** Startup packets are tiny; anything larger before authentication is not a Postgres client. */
const MAX_STARTUP_BYTES = 10_000

const md5 = (data: Buffer | string) => createHash("md5").update(data).digest("hex")

/** What a client sends for MD5 auth: "md5" + md5(md5(password + user) + salt). */
export const md5PasswordAnswer = (password: string, user: string, salt: Buffer): string =>
  `md5${md5(Buffer.concat([Buffer.from(md5(password + user)), salt]))}`

const int32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}

const message = (type: string, body: Buffer) => Buffer.concat([Buffer.from(type), int32(body.length + 4), body])

const errorResponse = (code: string, text: string) =>
  message("E", Buffer.concat([Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${text}\0`), Buffer.from([0])]))

const startupParams = (packet: Buffer): Map<string, string> => {
  const parts = packet.subarray(8).toString("utf8").split("\0")
  const out = new Map<string, string>()
  for (let i = 0; i + 1 < parts.length && parts[i] !== ""; i += 2) out.set(parts[i]!, parts[i + 1]!)
  return out
}

/**
 * Runs the password exchange on a fresh socket. Resolves with the startup packet (plus anything the client sent
 * after its password) once the password is right, with the socket paused; resolves null after refusing the client
 * (the socket is closed then).
 */
export const authenticate = (socket: Socket, password: string): Promise<Buffer | null> =>
  new Promise((resolve) => {
    let buffer = Buffer.alloc(0)
    let startup: Buffer | null = null
    let user = ""
    let salt: Buffer | null = null
    let settled = false
    const finish = (value: Buffer | null) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.off("data", onData)
      socket.off("error", onGone)
      socket.off("close", onGone)
      if (value === null) socket.destroy()
      else socket.pause()
      resolve(value)
    }
    const refuse = (code: string, text: string) => {
      if (socket.writable) socket.end(errorResponse(code, text))
      finish(null)
    }
    const onGone = () => finish(null)
    const timer = setTimeout(() => refuse("08P01", "authentication timed out"), AUTH_TIMEOUT_MS)
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      if (buffer.length > MAX_STARTUP_BYTES) return refuse("08P01", "startup packet too large")
      while (!settled) {
        if (startup === null) {
          if (buffer.length < 8) return
          const length = buffer.readInt32BE(0)
          const code = buffer.readInt32BE(4)
          if (length < 8 || length > MAX_STARTUP_BYTES) return refuse("08P01", "invalid startup packet")
          if (buffer.length < length) return
          const packet = buffer.subarray(0, length)
          buffer = buffer.subarray(length)
          if (code === SSL_REQUEST) {
            socket.write("N") // no TLS on loopback: the client continues in plain text
            continue
          }
          if (code === CANCEL_REQUEST) return finish(null)
          if (code !== PROTOCOL_3) return refuse("08P01", "unsupported frontend protocol")
          startup = Buffer.from(packet)
          user = startupParams(startup).get("user") ?? ""
          salt = randomBytes(4)
          socket.write(message("R", Buffer.concat([int32(5), salt]))) // AuthenticationMD5Password
          continue
        }
        if (buffer.length < 5) return
        const length = 1 + buffer.readInt32BE(1)
        if (length < 5 || length > MAX_STARTUP_BYTES) return refuse("08P01", "invalid message")
        if (buffer.length < length) return
        const type = String.fromCharCode(buffer[0]!)
        const body = buffer.subarray(5, length)
        buffer = buffer.subarray(length)
        if (type !== "p") return refuse("28000", "password authentication required")
        const given = Buffer.from(body.toString("utf8").replace(/\0$/, ""))
        const expected = Buffer.from(md5PasswordAnswer(password, user, salt!))
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
          return refuse("28P01", `password authentication failed for user "${user}"`)
        }
        return finish(Buffer.concat([startup, buffer]))
      }
    }
    socket.on("data", onData)
    socket.once("error", onGone)
    socket.once("close", onGone)
  })
