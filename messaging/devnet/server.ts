// The devnet network server: one loopback HTTP server that many processes (manager bot, agent runtimes, terminal chat,
// web chat view) share. JSON RPC at POST /v1/<op> with a bearer session obtained by signing a server challenge with the
// identity's secp256k1 key; the message stream is a long poll (POST /v1/poll) that returns as soon as anything new arrives.
import { serve } from "@hono/node-server"
import { Hono } from "hono"
import { Context, Effect, Layer, Schema } from "effect"
import type { AddressInfo } from "node:net"
import { hexToBytes } from "@noble/hashes/utils.js"
import { inboxIdFromAddress, randomHex, recoverAddress } from "../identity.ts"
import { DevnetRefusal, DevnetStore } from "./store.ts"
import { challengeMessage, Requests } from "./wire.ts"

export interface DevnetServerOptions {
  /** 0 picks a free port. */
  readonly port: number
  readonly dataDir: string
  /** Loopback by default: the devnet has no transport security. */
  readonly host?: string
}

export interface RunningDevnet {
  readonly url: string
  readonly close: () => Promise<void>
}

const CHALLENGE_TTL_MS = 60_000
const MAX_WAIT_MS = 25_000

/** Wakes long polls whenever a message is stored. */
class Wakeups {
  private waiters = new Set<() => void>()
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.waiters.add(done)
    })
  }
  wakeAll(): void {
    for (const w of [...this.waiters]) w()
  }
}

const buildApp = (store: DevnetStore, wakeups: Wakeups) => {
  const challenges = new Map<string, number>()
  const app = new Hono()

  app.onError((err, c) => {
    if (err instanceof DevnetRefusal) return c.json({ reason: err.reason, message: err.message }, err.status as 400)
    if (Schema.isSchemaError(err)) return c.json({ reason: "invalid", message: `Invalid request: ${err.message}` }, 400)
    return c.json({ reason: "internal", message: `Devnet server error: ${String(err)}` }, 500)
  })

  app.get("/v1/health", (c) => c.json({ ok: true, network: "devnet" }))

  app.post("/v1/challenge", (c) => {
    const now = Date.now()
    for (const [k, exp] of challenges) if (exp < now) challenges.delete(k)
    const challenge = randomHex(32)
    challenges.set(challenge, now + CHALLENGE_TTL_MS)
    return c.json({ challenge })
  })

  app.post("/v1/connect", async (c) => {
    const body = Schema.decodeUnknownSync(Requests.connect)(await c.req.json())
    const expires = challenges.get(body.challenge)
    challenges.delete(body.challenge)
    if (!expires || expires < Date.now())
      throw new DevnetRefusal({
        reason: "unauthorized",
        message: "The login challenge is unknown or expired; request a new one.",
        status: 401,
      })
    let address: string
    try {
      address = recoverAddress(challengeMessage(body.challenge), hexToBytes(body.signature.replace(/^0x/, "")))
    } catch {
      throw new DevnetRefusal({
        reason: "unauthorized",
        message: "The challenge signature is malformed; sign sha256(message) with the identity key (r||s||recid).",
        status: 401,
      })
    }
    const inboxId = inboxIdFromAddress(address)
    const token = store.register(inboxId, address, body.label ?? null)
    return c.json({ token, inboxId, address })
  })

  app.post("/v1/:op", async (c) => {
    const token = (c.req.header("authorization") ?? "").replace(/^Bearer\s+/i, "")
    const caller = token ? store.inboxForToken(token) : undefined
    if (!caller)
      throw new DevnetRefusal({
        reason: "unauthorized",
        message: "No valid devnet session; connect again (sign a fresh challenge).",
        status: 401,
      })
    const op = c.req.param("op")
    const raw = await c.req.json().catch(() => ({}))
    switch (op) {
      case "createGroup": {
        const b = Schema.decodeUnknownSync(Requests.createGroup)(raw)
        const conv = store.createGroup(caller, b.members, b)
        wakeups.wakeAll()
        return c.json(conv)
      }
      case "dm":
        return c.json(store.dm(caller, Schema.decodeUnknownSync(Requests.dm)(raw).peer))
      case "conversation":
        return c.json({
          conversation: store.conversation(caller, Schema.decodeUnknownSync(Requests.conversation)(raw).conversationId),
        })
      case "conversations":
        return c.json({ conversations: store.conversations(caller) })
      case "members":
        return c.json({
          members: store.members(caller, Schema.decodeUnknownSync(Requests.members)(raw).conversationId),
        })
      case "addMembers": {
        const b = Schema.decodeUnknownSync(Requests.addMembers)(raw)
        store.addMembers(caller, b.conversationId, b.inboxIds)
        wakeups.wakeAll()
        return c.json({ ok: true })
      }
      case "removeMembers": {
        const b = Schema.decodeUnknownSync(Requests.removeMembers)(raw)
        store.removeMembers(caller, b.conversationId, b.inboxIds)
        wakeups.wakeAll()
        return c.json({ ok: true })
      }
      case "leave": {
        store.leave(caller, Schema.decodeUnknownSync(Requests.leave)(raw).conversationId)
        wakeups.wakeAll()
        return c.json({ ok: true })
      }
      case "updateGroup": {
        const b = Schema.decodeUnknownSync(Requests.updateGroup)(raw)
        store.updateGroup(caller, b.conversationId, b)
        wakeups.wakeAll()
        return c.json({ ok: true })
      }
      case "send": {
        const b = Schema.decodeUnknownSync(Requests.send)(raw)
        const msg = store.send(caller, b.conversationId, b.message)
        wakeups.wakeAll()
        return c.json({ id: msg.id, sentAtMs: msg.sentAtMs })
      }
      case "messages": {
        const b = Schema.decodeUnknownSync(Requests.messages)(raw)
        return c.json({ messages: store.messages(caller, b.conversationId, b.afterMs, b.limit) })
      }
      case "consent":
        return c.json({
          consent: store.consent(caller, Schema.decodeUnknownSync(Requests.consent)(raw).conversationId),
        })
      case "setConsent": {
        const b = Schema.decodeUnknownSync(Requests.setConsent)(raw)
        store.setConsent(caller, b.conversationId, b.consent)
        return c.json({ ok: true })
      }
      case "poll": {
        const b = Schema.decodeUnknownSync(Requests.poll)(raw)
        const deadline = Date.now() + Math.min(Math.max(b.waitMs ?? 0, 0), MAX_WAIT_MS)
        let result = store.poll(caller, { seq: b.afterSeq, ms: b.afterMs })
        // Later rounds continue from the cursor so nothing stored while we waited is skipped.
        while (result.messages.length === 0 && Date.now() < deadline && !c.req.raw.signal.aborted) {
          await wakeups.wait(deadline - Date.now())
          result = store.poll(caller, { seq: result.cursor })
        }
        return c.json(result)
      }
      default:
        throw new DevnetRefusal({ reason: "not-found", message: `Unknown devnet operation "${op}".`, status: 404 })
    }
  })
  return app
}

/** Starts a devnet server; resolves once it listens. `close` stops it and waits for open requests to finish. */
export const startDevnetServer = (options: DevnetServerOptions): Promise<RunningDevnet> => {
  const store = new DevnetStore(options.dataDir)
  const wakeups = new Wakeups()
  const app = buildApp(store, wakeups)
  const host = options.host ?? "127.0.0.1"
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port, hostname: host }, (info: AddressInfo) => {
      const url = `http://${host}:${info.port}`
      resolve({
        url,
        close: () =>
          new Promise<void>((done) => {
            wakeups.wakeAll()
            server.close(() => {
              store.close()
              done()
            })
            // Long polls and keep-alive sockets would otherwise hold close() open.
            if ("closeAllConnections" in server) (server as { closeAllConnections: () => void }).closeAllConnections()
          }),
      })
    })
    server.once("error", (e) => {
      store.close()
      reject(e)
    })
  })
}

export class DevnetServerError extends Schema.TaggedError<DevnetServerError>()("DevnetServerError", {
  message: Schema.String,
}) {}

/** A running devnet server held by a scope. */
export class DevnetServer extends Context.Service<DevnetServer, { readonly url: string; readonly dataDir: string }>()(
  "messaging/devnet/DevnetServer",
) {
  static readonly layer = (options: DevnetServerOptions) =>
    Layer.effect(
      DevnetServer,
      Effect.acquireRelease(
        Effect.tryPromise({
          try: () => startDevnetServer(options),
          catch: (e) =>
            new DevnetServerError({
              message: `Could not start the devnet server on port ${options.port}: ${String(e)}. Pick another port or stop whatever uses it.`,
            }),
        }),
        (running) => Effect.promise(() => running.close()),
      ).pipe(Effect.map((running) => DevnetServer.of({ url: running.url, dataDir: options.dataDir }))),
    )
}
