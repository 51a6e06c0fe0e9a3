import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { generateIdentity } from "./identity.ts"
import { embeddedMessagingLayer, messagingLayerFromEnv } from "./layers.ts"
import { Messaging } from "./Messaging.ts"

const withEnv = <ROut, E>(layer: Layer.Layer<ROut, E>, env: Record<string, string>) =>
  layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env))))

const network = Effect.gen(function* () {
  const m = yield* Messaging
  return { network: m.network, url: m.devnetUrl }
})

describe("messaging layers from the environment", () => {
  it.live(
    "embedded: starts a devnet under DATA_DIR, publishes its URL for other processes, removes it on shutdown",
    () =>
      Effect.gen(function* () {
        const dataDir = mkdtempSync(join(tmpdir(), "convos-embedded-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
        const urlFile = join(dataDir, "devnet.url")
        const url = yield* Effect.gen(function* () {
          const { network: net, url } = yield* network
          expect(net).toBe("devnet")
          expect(readFileSync(urlFile, "utf8").trim()).toBe(url)
          const client = yield* (yield* Messaging).connect(generateIdentity())
          expect((yield* client.createGroup([])).kind).toBe("group")
          // Another "process" configured only with DATA_DIR finds the same network through the URL file.
          const other = yield* network.pipe(Effect.provide(withEnv(messagingLayerFromEnv, { DATA_DIR: dataDir })))
          expect(other).toEqual({ network: "devnet", url })
          return url
        }).pipe(Effect.provide(withEnv(embeddedMessagingLayer, { DATA_DIR: dataDir, DEVNET_PORT: "0" })))
        expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
        expect(existsSync(urlFile)).toBe(false)
        expect(existsSync(join(dataDir, "devnet", "devnet.sqlite"))).toBe(true)
      }).pipe(Effect.scoped),
  )

  it.live("XMTP_ENV selects the XMTP adapter; no devnet and no URL file means a clear error", () =>
    Effect.gen(function* () {
      expect((yield* network.pipe(Effect.provide(withEnv(messagingLayerFromEnv, { XMTP_ENV: "dev" })))).network).toBe(
        "dev",
      )
      // Selecting a network loads nothing native: the XMTP SDK (and its 40 MB binding) is imported only by connect().
      const sharedObjects = (process.report.getReport() as unknown as { sharedObjects: string[] }).sharedObjects
      expect(sharedObjects.filter((so) => so.includes("bindings_node"))).toEqual([])
      expect(
        (yield* network.pipe(Effect.provide(withEnv(messagingLayerFromEnv, { DEVNET_URL: "http://127.0.0.1:1/" }))))
          .url,
      ).toBe("http://127.0.0.1:1")
      const dataDir = mkdtempSync(join(tmpdir(), "convos-nodevnet-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
      const error = yield* Effect.flip(
        network.pipe(Effect.provide(withEnv(messagingLayerFromEnv, { DATA_DIR: dataDir }))),
      )
      expect(String((error as { message?: string }).message)).toMatch(/set DEVNET_URL, or run `npm start`/)
      const bad = yield* Effect.flip(
        network.pipe(Effect.provide(withEnv(messagingLayerFromEnv, { XMTP_ENV: "mainnet-typo" }))),
      )
      expect(String((bad as { message?: string }).message)).toMatch(/XMTP_ENV must be "dev" or "production"/)
    }).pipe(Effect.scoped),
  )
})
