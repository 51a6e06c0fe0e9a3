// The embedded default for the process that hosts the network (`npm start`): start a devnet server under
// $DATA_DIR/devnet on DEVNET_PORT (0 = any free port) and record its URL in $DATA_DIR/devnet.url so the terminal chat,
// the web chat view and agent runtimes (given DEVNET_URL) reach the same network.
import { Config, Effect, Layer } from "effect"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { MessagingError } from "../errors.ts"
import { Messaging } from "../Messaging.ts"
import { DevnetMessaging, devnetUrlFile } from "./DevnetMessaging.ts"
import { DevnetServer } from "./server.ts"

const settings = Config.all({
  dataDir: Config.String("DATA_DIR").pipe(Config.withDefault(".data")),
  port: Config.Int("DEVNET_PORT").pipe(Config.withDefault(0)),
})

/** Starts the devnet server (held by the layer's scope) and provides DevnetServer plus Messaging pointed at it. */
export const embeddedDevnetLayer: Layer.Layer<DevnetServer | Messaging, unknown> = Layer.unwrap(
  Effect.gen(function* () {
    const s = yield* settings.pipe(Effect.mapError((e) => new MessagingError({ reason: "invalid", message: `Invalid DATA_DIR/DEVNET_PORT: ${e.message}` })))
    const dataDir = resolve(s.dataDir)
    const server = DevnetServer.layer({ port: s.port, dataDir: join(dataDir, "devnet") })
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
    const messaging = Layer.unwrap(Effect.gen(function* () {
      const running = yield* DevnetServer
      return DevnetMessaging.layerFromUrl(running.url)
    }))
    return Layer.provideMerge(Layer.merge(messaging, published), server)
  }),
)
