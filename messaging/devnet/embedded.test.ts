import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Fiber, Layer, Logger, Stream } from "effect"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { generateIdentity } from "../identity.ts"
import { Messaging } from "../Messaging.ts"
import { connectDevnet } from "./DevnetMessaging.ts"
import { devnetPortFile, embeddedDevnetLayer } from "./embedded.ts"
import { DevnetServer } from "./server.ts"

// `npm start` without DEVNET_PORT: the embedded devnet must come back on the same URL after a restart, because agent
// processes that outlive the manager keep the DEVNET_URL they were started with.

const embedded = (dataDir: string, logs?: string[]) =>
  embeddedDevnetLayer.pipe(
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ DATA_DIR: dataDir }))),
    Layer.provide(
      logs ? Logger.layer([Logger.make((o) => void logs.push([o.message].flat().map(String).join(" ")))]) : Layer.empty,
    ),
  )

/** Runs `f` with the embedded devnet up, then shuts it down (as stopping `npm start` does). */
const whileUp = <A, E, R>(dataDir: string, f: (url: string) => Effect.Effect<A, E, R>, logs?: string[]) =>
  Effect.gen(function* () {
    const { url } = yield* DevnetServer
    return yield* f(url)
  }).pipe(Effect.provide(embedded(dataDir, logs)))

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "convos-embedded-restart-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
)

describe("embedded devnet across a restart of `npm start`", () => {
  it.live(
    "serves the same URL again, so clients connected before (agents) keep sending and receiving",
    () =>
      Effect.gen(function* () {
        const dataDir = yield* tempDir
        const [ida, idb] = [generateIdentity(), generateIdentity()]
        // Clients live outside the devnet's lifetime, like agent processes that outlive the manager.
        const { firstUrl, a, b, groupId } = yield* whileUp(dataDir, (url) =>
          Effect.gen(function* () {
            const a = yield* connectDevnet(url, ida, "agent a")
            const b = yield* connectDevnet(url, idb, "agent b")
            const group = yield* a.createGroup([b.inboxId], { name: "survives restarts" })
            yield* a.sendText(group.id, "before restart")
            return { firstUrl: url, a, b, groupId: group.id }
          }),
        )
        expect(existsSync(join(dataDir, "devnet.url"))).toBe(false)
        expect(readFileSync(devnetPortFile(dataDir), "utf8").trim()).toBe(new URL(firstUrl).port)

        // b's stream was opened against the old URL and stays open while the devnet restarts.
        const received = yield* b.stream({ afterMs: 0 }).pipe(
          Stream.filter((m) => m.text !== null),
          Stream.take(2),
          Stream.runCollect,
          Effect.timeout("20 seconds"),
          Effect.forkScoped,
        )
        yield* Effect.sleep("500 millis") // the manager is down for a moment
        const secondUrl = yield* whileUp(dataDir, (url) =>
          Effect.gen(function* () {
            expect(url).toBe(firstUrl)
            expect(readFileSync(join(dataDir, "devnet.url"), "utf8").trim()).toBe(firstUrl)
            yield* a.sendText(groupId, "after restart")
            const got = yield* Fiber.join(received)
            expect([...got].map((m) => m.text)).toEqual(["before restart", "after restart"])
            yield* b.sendText(groupId, "reply after restart")
            expect((yield* a.messages(groupId)).map((m) => m.text).filter((t) => t !== null)).toEqual([
              "before restart",
              "after restart",
              "reply after restart",
            ])
            // A new client (e.g. a newly created agent) finds the same network through the Messaging service.
            const c = yield* (yield* Messaging).connect(generateIdentity())
            expect((yield* c.createGroup([a.inboxId])).kind).toBe("group")
            return url
          }),
        )
        expect(secondUrl).toBe(firstUrl)
      }).pipe(Effect.scoped),
    60_000,
  )

  it.live(
    "when the previous port is taken by something else, picks a new one and says re-adopted agents need a restart",
    () =>
      Effect.gen(function* () {
        const dataDir = yield* tempDir
        const firstUrl = yield* whileUp(dataDir, (url) => Effect.succeed(url))
        const oldPort = Number(new URL(firstUrl).port)
        // Another program grabs the port while the manager is down.
        const squatter = createServer()
        yield* Effect.acquireRelease(
          Effect.callback<void>((resume) => void squatter.listen(oldPort, "127.0.0.1", () => resume(Effect.void))),
          () => Effect.callback<void>((resume) => void squatter.close(() => resume(Effect.void))),
        )
        const logs: string[] = []
        const secondUrl = yield* whileUp(
          dataDir,
          (url) =>
            Effect.gen(function* () {
              const client = yield* (yield* Messaging).connect(generateIdentity())
              expect((yield* client.createGroup([])).kind).toBe("group")
              return url
            }),
          logs,
        )
        expect(secondUrl).not.toBe(firstUrl)
        expect(readFileSync(devnetPortFile(dataDir), "utf8").trim()).toBe(new URL(secondUrl).port)
        const warning = logs.find((l) => l.includes(`port ${oldPort}`))
        expect(warning).toBeDefined()
        expect(warning).toContain("taken by another process")
        expect(warning).toContain(secondUrl)
        expect(warning).toMatch(/restart them/)
      }).pipe(Effect.scoped),
    60_000,
  )
})
