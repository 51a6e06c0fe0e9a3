// The embedded database as another local process sees it: the PGlite server on loopback refuses a client without the
// password (or with a wrong one), and DATA_DIR with everything in it is owner-only after the database starts, an
// older DATA_DIR with open folders and files included.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { connect } from "node:net"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { Cause, ConfigProvider, Effect, Layer, ManagedRuntime } from "effect"
import { SqlClient } from "effect/sql"
import { DatabaseInfo, DatabaseLive, pgClientLayer } from "../Database.ts"
import { EMBEDDED_DB_PASSWORD_FILE } from "../dataDir.ts"
import { startEmbeddedPostgres } from "../pglite-server.ts"

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** Connects with the pool's own Postgres client and runs SELECT 1: "ok", or why it was refused. */
const trySelect = (url: string): Promise<string> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ one: number }>`SELECT 1 AS one`
      return rows[0]?.one === 1 ? "ok" : "unexpected answer"
    }).pipe(
      Effect.provide(pgClientLayer(url, 1)),
      Effect.timeout("20 seconds"),
      Effect.catchCause((cause) => Effect.succeed(`refused: ${Cause.pretty(cause)}`)),
    ),
  )

/**
 * A client that knows no password, at the wire level: sends a startup message, then an empty password. Returns the
 * authentication request the server answered the startup with (5 = MD5 password; 0 would be "OK, you are in"), and
 * the SQLSTATE of its error after the empty password, once it closed the connection.
 */
const withoutPassword = (url: string) =>
  new Promise<{ authRequest: number; error: string | null; closed: boolean }>((resolve, reject) => {
    const u = new URL(url)
    const socket = connect({ host: u.hostname, port: Number(u.port) })
    let received = Buffer.alloc(0)
    let authRequest = -1
    socket.on("error", reject)
    socket.on("connect", () => {
      const params = Buffer.from("user\0postgres\0database\0postgres\0\0")
      const head = Buffer.alloc(8)
      head.writeInt32BE(8 + params.length, 0)
      head.writeInt32BE(196608, 4)
      socket.write(Buffer.concat([head, params]))
    })
    socket.on("data", (chunk) => {
      received = Buffer.concat([received, chunk])
      if (authRequest === -1 && received.length >= 9 && received[0] === 0x52) {
        authRequest = received.readInt32BE(5)
        received = received.subarray(1 + received.readInt32BE(1))
        const empty = Buffer.from("\0")
        const msg = Buffer.alloc(5)
        msg.write("p", 0)
        msg.writeInt32BE(4 + empty.length, 1)
        socket.write(Buffer.concat([msg, empty]))
      }
    })
    socket.on("close", () => {
      const text = received.toString("latin1")
      const code = /\0C([0-9A-Z]{5})\0/.exec(text)?.[1] ?? null
      resolve({ authRequest, error: received[0] === 0x45 ? code : null, closed: true })
    })
  })

const mode = (path: string) => statSync(path).mode & 0o777

describe("embedded PGlite server", () => {
  it("refuses a client without the password or with a wrong one, and serves the one with it", async () => {
    const embedded = await startEmbeddedPostgres({ password: "right-password" })
    try {
      expect(new URL(embedded.url).password).toBe("right-password")
      expect(await withoutPassword(embedded.url)).toEqual({ authRequest: 5, error: "28P01", closed: true })
      const wrong = new URL(embedded.url)
      wrong.password = "wrong-password"
      expect(await trySelect(wrong.toString())).toContain("password authentication failed")
      expect(await trySelect(embedded.url)).toBe("ok")
    } finally {
      await embedded.close()
    }
  }, 180_000)

  it("DatabaseLive: DATA_DIR and every folder in it end up 0700 (files 0600), the password file is 0600, and the served port wants it", async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), "pool-datadir-")), "data")
    dirs.push(join(dataDir, ".."))
    // What an older version left: open folders and a world-readable secret.
    mkdirSync(join(dataDir, "instances", "agent-1"), { recursive: true, mode: 0o755 })
    chmodSync(dataDir, 0o755)
    chmodSync(join(dataDir, "instances"), 0o755)
    chmodSync(join(dataDir, "instances", "agent-1"), 0o775)
    writeFileSync(join(dataDir, "pool-api-key"), "key", { mode: 0o644 })
    chmodSync(join(dataDir, "pool-api-key"), 0o644)

    const runtime = ManagedRuntime.make(
      DatabaseLive.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { DATA_DIR: dataDir } })))),
    )
    try {
      const info = await runtime.runPromise(
        Effect.gen(function* () {
          return yield* DatabaseInfo
        }),
      )
      for (const dir of [
        dataDir,
        join(dataDir, "instances"),
        join(dataDir, "instances", "agent-1"),
        join(dataDir, "pglite"),
      ])
        expect(mode(dir), dir).toBe(0o700)
      expect(mode(join(dataDir, "pool-api-key"))).toBe(0o600)
      const passwordFile = join(dataDir, EMBEDDED_DB_PASSWORD_FILE)
      expect(mode(passwordFile)).toBe(0o600)
      const password = readFileSync(passwordFile, "utf8").trim()
      expect(password.length).toBeGreaterThanOrEqual(32)
      expect(info.location).not.toContain(password)
      const port = /127\.0\.0\.1:(\d+)/.exec(info.location)![1]
      expect(await withoutPassword(`postgres://postgres@127.0.0.1:${port}/postgres`)).toEqual({
        authRequest: 5,
        error: "28P01",
        closed: true,
      })
      expect(await trySelect(`postgres://postgres:${password}@127.0.0.1:${port}/postgres`)).toBe("ok")
    } finally {
      await runtime.dispose()
    }
  }, 180_000)
})
