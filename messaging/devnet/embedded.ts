// The embedded default for the process that hosts the network (`npm start`): start a devnet server under
// $DATA_DIR/devnet and record its URL in $DATA_DIR/devnet.url so the terminal chat, the web chat view and agent
// runtimes (given DEVNET_URL) reach the same network.
//
// Port: DEVNET_PORT when set (0 = any free port). Otherwise the port of the previous run, kept in
// $DATA_DIR/devnet.port, so a restarted manager serves the same URL: agent processes that outlive the manager (local
// compute re-adopts them) keep their DEVNET_URL and simply reconnect. Only when that port is now taken by something
// else does the devnet pick a new one, with a warning: agents re-adopted from the previous run then point at the old
// URL and need a restart.
import { Config, Effect, Layer, Option } from "effect"
import { DataDir } from "@convos-agents/contract"
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { MessagingError } from "../errors.ts"
import { Messaging } from "../Messaging.ts"
import { DevnetMessaging, devnetUrlFile } from "./DevnetMessaging.ts"
import { DevnetServer, DevnetServerError, startDevnetServer, type RunningDevnet } from "./server.ts"

/** Where the embedded devnet remembers its port between runs (kept on shutdown, unlike devnet.url). */
export const devnetPortFile = (dataDir: string): string => join(dataDir, "devnet.port")

const settings = Config.all({
  dataDir: DataDir,
  port: Config.option(Config.Int("DEVNET_PORT")),
})

const readPreviousPort = (file: string): number | null => {
  if (!existsSync(file)) return null
  const port = Number(readFileSync(file, "utf8").trim())
  return Number.isInteger(port) && port > 0 && port <= 65535 ? port : null
}

const start = (port: number, dataDir: string) =>
  Effect.tryPromise({
    try: () => startDevnetServer({ port, dataDir }),
    catch: (e) => e as NodeJS.ErrnoException,
  })

const startFailed = (port: number, e: unknown) =>
  new DevnetServerError({
    message: `Could not start the devnet server on port ${port}: ${String(e)}. Pick another port (DEVNET_PORT) or stop whatever uses it.`,
  })

/** Starts the server on DEVNET_PORT, else on the previous run's port (a new one if that is taken), and records the port. */
const acquireServer = (dataDir: string, explicitPort: Option.Option<number>) =>
  Effect.gen(function* () {
    const devnetDir = join(dataDir, "devnet")
    const portFile = devnetPortFile(dataDir)
    let running: RunningDevnet
    if (Option.isSome(explicitPort)) {
      running = yield* start(explicitPort.value, devnetDir).pipe(
        Effect.mapError((e) => startFailed(explicitPort.value, e)),
      )
    } else {
      const previous = readPreviousPort(portFile)
      if (previous === null) {
        running = yield* start(0, devnetDir).pipe(Effect.mapError((e) => startFailed(0, e)))
      } else {
        const reused = yield* Effect.result(start(previous, devnetDir))
        if (reused._tag === "Success") running = reused.success
        else if (reused.failure.code === "EADDRINUSE") {
          running = yield* start(0, devnetDir).pipe(Effect.mapError((e) => startFailed(0, e)))
          yield* Effect.logWarning(
            `Devnet: port ${previous} (the previous run's, from ${portFile}) is taken by another process, so the devnet now listens on ${running.url}. ` +
              `Agent processes still running from the previous run point at http://127.0.0.1:${previous} and cannot reach this devnet: restart them ` +
              `(destroy them so the pool replaces them). Set DEVNET_PORT to pin a port.`,
          )
        } else return yield* startFailed(previous, reused.failure)
      }
    }
    mkdirSync(dataDir, { recursive: true })
    writeFileSync(portFile, `${new URL(running.url).port}\n`)
    return running
  })

/** Starts the devnet server (held by the layer's scope) and provides DevnetServer plus Messaging pointed at it. */
export const embeddedDevnetLayer: Layer.Layer<DevnetServer | Messaging, unknown> = Layer.unwrap(
  Effect.gen(function* () {
    const s = yield* settings.pipe(
      Effect.mapError(
        (e) => new MessagingError({ reason: "invalid", message: `Invalid DATA_DIR/DEVNET_PORT: ${e.message}` }),
      ),
    )
    const dataDir = resolve(s.dataDir)
    const server = Layer.effect(
      DevnetServer,
      Effect.acquireRelease(acquireServer(dataDir, s.port), (running) => Effect.promise(() => running.close())).pipe(
        Effect.map((running) => DevnetServer.of({ url: running.url, dataDir: join(dataDir, "devnet") })),
      ),
    )
    const published = Layer.effectDiscard(
      Effect.gen(function* () {
        const running = yield* DevnetServer
        const file = devnetUrlFile(dataDir)
        yield* Effect.acquireRelease(
          Effect.sync(() => {
            mkdirSync(dataDir, { recursive: true })
            writeFileSync(file, `${running.url}\n`)
          }),
          () => Effect.sync(() => rmSync(file, { force: true })),
        )
      }),
    )
    const messaging = Layer.unwrap(
      Effect.gen(function* () {
        const running = yield* DevnetServer
        return DevnetMessaging.layerFromUrl(running.url)
      }),
    )
    return Layer.provideMerge(Layer.merge(messaging, published), server)
  }),
)
