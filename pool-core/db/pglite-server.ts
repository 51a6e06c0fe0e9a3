// Embedded Postgres: PGlite (Postgres compiled to wasm) served on a loopback port over the wire protocol
// (pglite-socket), so the same @effect/sql-pg code runs against it and against a real server.
//
// PGlite is ONE backend session. pglite-socket multiplexes client sockets onto it per protocol message, which breaks
// with @effect/sql-pg's extended protocol (Parse/Bind/Execute/Sync of two sockets interleave on the unnamed portal →
// `portal "" does not exist`). The patch below gives one socket the session from its first message until a Sync/Query
// leaves it outside a transaction, fans out LISTEN/NOTIFY notifications to the other sockets, and never wedges the
// queue when PGlite throws. It touches private fields: pglite-socket is pinned to 0.2.17, and the test "many connections
// running transactions at once do not interleave" in pool-core/db/test/database.test.ts reproduces the interleaving.
import { randomBytes } from "node:crypto"
import type { Socket } from "node:net"
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { authenticate } from "./pglite-auth.ts"

const SYNC = 0x53
const QUERY = 0x51
const TERMINATE = 0x58
const NOTIFICATION = 0x41

interface QueuedMessage {
  readonly handlerId: number
  readonly message: Uint8Array
  readonly resolve: (size: number) => void
  readonly reject: (err: unknown) => void
  readonly onData: (data: Uint8Array) => void
}

interface QueryQueueInternals {
  queue: QueuedMessage[]
  processing: boolean
  lastHandlerId: number | null
  db: PGlite
  processQueue: () => Promise<void>
  clearTransactionIfNeeded: (handlerId: number) => Promise<void>
}

interface ServerInternals {
  queryQueue: QueryQueueInternals
  handlers: Set<{ handlerId: number; socket: { writable: boolean; write: (b: Uint8Array) => void } | null }>
}

/** Splits backend output into messages and keeps the NotificationResponse ones. */
const notificationsIn = (bytes: Uint8Array): Uint8Array[] => {
  const out: Uint8Array[] = []
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let offset = 0
  while (offset + 5 <= bytes.length) {
    const type = bytes[offset]
    const length = view.getInt32(offset + 1)
    const end = offset + 1 + length
    if (length < 4 || end > bytes.length) break
    if (type === NOTIFICATION) out.push(bytes.slice(offset, end))
    offset = end
  }
  return out
}

const patchSessionOwnership = (server: PGLiteSocketServer): void => {
  const internals = server as unknown as ServerInternals
  const q = internals.queryQueue
  let owner: number | null = null
  q.processQueue = async function processQueue(this: QueryQueueInternals) {
    if (this.processing || this.queue.length === 0) return
    this.processing = true
    try {
      while (this.queue.length > 0) {
        const index = owner === null ? 0 : this.queue.findIndex((m) => m.handlerId === owner)
        if (index === -1) break
        const job = this.queue.splice(index, 1)[0]!
        const chunks: Uint8Array[] = []
        let size = 0
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(job.message, {
              onRawData: (data: Uint8Array) => {
                size += data.length
                chunks.push(data.slice())
                job.onData(data)
              },
            }),
          )
        } catch (err) {
          owner = null
          job.reject(err)
          continue
        }
        const type = job.message[0]
        const endsBatch = type === SYNC || type === QUERY || type === TERMINATE || type === 0
        owner = endsBatch && !this.db.isInTransaction() ? null : job.handlerId
        this.lastHandlerId = job.handlerId
        if (size > 0 && (type === SYNC || type === QUERY)) {
          const notes = notificationsIn(Buffer.concat(chunks))
          if (notes.length > 0) {
            for (const h of internals.handlers) {
              if (h.handlerId === job.handlerId || !h.socket?.writable) continue
              for (const n of notes) h.socket.write(n)
            }
          }
        }
        job.resolve(size)
      }
    } finally {
      this.processing = false
    }
  }
  q.clearTransactionIfNeeded = async function clearTransactionIfNeeded(this: QueryQueueInternals, handlerId: number) {
    if (owner !== handlerId) return
    owner = null
    if (this.db.isInTransaction()) await this.db.exec("ROLLBACK")
    this.lastHandlerId = null
    await this.processQueue()
  }
}

/** Every connection passes the password exchange (pglite-auth.ts) before the socket is handed to pglite-socket. */
const requirePassword = (server: PGLiteSocketServer, password: string): void => {
  const internals = server as unknown as { handleConnection: (socket: Socket) => Promise<void> }
  const handOver = internals.handleConnection.bind(server)
  internals.handleConnection = async (socket: Socket) => {
    const startup = await authenticate(socket, password)
    if (startup === null) return
    socket.unshift(startup) // PGlite sees the client's startup message and answers AuthenticationOk
    await handOver(socket)
    socket.resume()
  }
}

export interface EmbeddedPostgres {
  readonly url: string
  readonly db: PGlite
  readonly close: () => Promise<void>
}

export interface EmbeddedPostgresOptions {
  /** Directory for persistent data; omit for an in-memory database. */
  readonly dataDir?: string
  /** A dump from `db.dumpDataDir()` to start from (much faster than initdb). */
  readonly loadDataDir?: Blob | File
  readonly port?: number
  readonly maxConnections?: number
  /** The password every client must give (user "postgres"); default: a random one, in the returned url only. */
  readonly password?: string
}

export const startEmbeddedPostgres = async (options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> => {
  const db = await PGlite.create(
    options.dataDir ?? "memory://",
    options.loadDataDir ? { loadDataDir: options.loadDataDir } : {},
  )
  const server = new PGLiteSocketServer({
    db,
    host: "127.0.0.1",
    port: options.port ?? 0,
    maxConnections: options.maxConnections ?? 32,
  })
  patchSessionOwnership(server)
  const password = options.password ?? randomBytes(24).toString("hex")
  requirePassword(server, password)
  try {
    await server.start()
  } catch (err) {
    await db.close()
    throw err
  }
  const [host, port] = server.getServerConn().split(":")
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@${host}:${port}/postgres`,
    db,
    close: async () => {
      await server.stop()
      await db.close()
    },
  }
}
