// One agent instance without OpenClaw, for tests: the plugin's runtime (createConvosRuntime) behind a plain node http
// server on loopback, with its own temp state dir. `call` speaks the instance HTTP contract with its token.
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Layer, Stream } from "effect"
import { Messaging, type MessagingClient, MessagingError } from "@convos-agents/messaging"
import { createConvosRuntime, type ConvosRuntime, type ConvosRuntimeOptions } from "../../src/plugin/convosRuntime.ts"

export const TOKEN = "instance-token-for-tests"

export interface TestInstance {
  readonly convos: ConvosRuntime
  readonly env: NodeJS.ProcessEnv
  readonly stateDir: string
  readonly logs: Array<string>
  readonly call: (
    path: string,
    init?: { method?: string; body?: unknown },
  ) => Promise<{ status: number; body: Record<string, any> }>
  readonly close: () => Promise<void>
}

export const startInstance = async (
  options: Omit<ConvosRuntimeOptions, "env" | "log"> & {
    readonly env?: NodeJS.ProcessEnv
    /** An earlier instance's state dir (a restart on its state); kept on close. Default: a new one, removed on close. */
    readonly stateDir?: string
  },
): Promise<TestInstance> => {
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "runtime-instance-"))
  const env: NodeJS.ProcessEnv = {
    OPENCLAW_STATE_DIR: stateDir,
    INSTANCE_TOKEN: TOKEN,
    PORT: "18999",
    CONVOS_JOIN_WAIT_MS: "1000",
    ...options.env,
  }
  const logs: Array<string> = []
  const convos = createConvosRuntime({ ...options, env, log: (line) => logs.push(line) })
  const server: Server = createServer((req, res) => {
    convos.handle(req, res).then((handled) => {
      if (!handled) {
        res.statusCode = 404
        res.end("{}")
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const call = (path: string, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${base}${path}`, {
      method: init.method ?? "GET",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, any> }))
  return {
    convos,
    env,
    stateDir,
    logs,
    call,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await convos.stop()
      if (!options.stateDir) rmSync(stateDir, { recursive: true, force: true })
    },
  }
}

/** Faults to inject into the agent's messaging (tests only). */
export interface MessagingFaults {
  /** Connect attempts that fail before one succeeds. */
  failConnects?: number
  /** Message streams that fail (after `streamFailAfterMs`) before one stays up. */
  failStreams?: number
  streamFailAfterMs?: number
  /** sendText fails for texts matching this, `failSends` times (Infinity = always). */
  failSendsMatching?: (text: string) => boolean
  failSends?: number
}

/** Wraps a messaging layer with faults; `stats` counts what the agent tried. */
export const faultyMessaging = (inner: Layer.Layer<Messaging, unknown>, faults: MessagingFaults) => {
  const stats = { connects: 0, streams: 0, failedSends: 0 }
  const layer = Layer.effect(
    Messaging,
    Effect.gen(function* () {
      const m = yield* Messaging
      return Messaging.of({
        ...m,
        connect: (identity, options) =>
          Effect.gen(function* () {
            stats.connects++
            if ((faults.failConnects ?? 0) > 0) {
              faults.failConnects!--
              return yield* new MessagingError({ reason: "unreachable", message: "test: the network is down" })
            }
            const client = yield* m.connect(identity, options)
            const wrapped: MessagingClient = {
              ...client,
              stream: (o) => {
                stats.streams++
                if ((faults.failStreams ?? 0) > 0) {
                  faults.failStreams!--
                  return Stream.fromEffect(
                    Effect.sleep(faults.streamFailAfterMs ?? 0).pipe(
                      Effect.andThen(
                        Effect.fail(new MessagingError({ reason: "network", message: "test: stream dropped" })),
                      ),
                    ),
                  ) as ReturnType<MessagingClient["stream"]>
                }
                return client.stream(o)
              },
              sendText: (conversationId, text) => {
                if (faults.failSendsMatching?.(text) && (faults.failSends ?? Infinity) > 0) {
                  faults.failSends = (faults.failSends ?? Infinity) - 1
                  stats.failedSends++
                  return Effect.fail(new MessagingError({ reason: "network", message: "test: send failed" }))
                }
                return client.sendText(conversationId, text)
              },
            }
            return wrapped
          }),
      })
    }),
  ).pipe(Layer.provide(inner))
  return { layer, stats }
}
