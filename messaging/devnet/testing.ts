// Test support: a devnet server on a free port with a fresh temp data dir, plus the Messaging adapter pointed at it.
// Tests in other packages use DevnetServer.url to point child processes (DEVNET_URL) at the same network.
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Messaging } from "../Messaging.ts"
import { DevnetMessaging } from "./DevnetMessaging.ts"
import { DevnetServer } from "./server.ts"

/** A temp directory removed when the layer's scope closes. */
const tempDataDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "convos-devnet-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
)

/** Fresh devnet per layer build: provides DevnetServer ({ url, dataDir }) and Messaging. */
export const DevnetTest: Layer.Layer<DevnetServer | Messaging, unknown> = Layer.unwrap(
  Effect.map(tempDataDir, (dataDir) => {
    const server = DevnetServer.layer({ port: 0, dataDir })
    const messaging = Layer.unwrap(
      Effect.gen(function* () {
        const running = yield* DevnetServer
        return DevnetMessaging.layerFromUrl(running.url)
      }),
    )
    return Layer.provideMerge(messaging, server)
  }),
)
