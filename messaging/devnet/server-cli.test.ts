import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { generateIdentity } from "../identity.ts"
import { makeDevnetMessaging } from "./DevnetMessaging.ts"

const cli = fileURLToPath(new URL("./server-cli.ts", import.meta.url))

/** Starts the CLI as a child process; resolves with its URL once it prints the ready line. Killed (by PID) at scope end. */
const startCli = (dir: string) =>
  Effect.acquireRelease(
    Effect.callback<{ url: string; child: ReturnType<typeof spawn> }, Error>((resume) => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", cli, "--port", "0", "--data", join(dir, "devnet"), "--url-file", join(dir, "devnet.url")],
        { stdio: ["ignore", "pipe", "pipe"] },
      )
      let out = ""
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString()
        const m = out.match(/devnet listening on (http:\/\/\S+)/)
        if (m) resume(Effect.succeed({ url: m[1]!, child }))
      })
      child.stderr!.on("data", (d: Buffer) => (out += d.toString()))
      child.once("exit", (code) => resume(Effect.fail(new Error(`devnet CLI exited early (${code}): ${out}`))))
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.kill("SIGTERM")),
  )

describe("devnet server CLI", () => {
  it.live(
    "serves the network from its own process, writes its URL file and stops on SIGTERM",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "convos-devnet-cli-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
        const { url, child } = yield* startCli(dir)
        expect(readFileSync(join(dir, "devnet.url"), "utf8").trim()).toBe(url)
        const messaging = makeDevnetMessaging(url)
        const a = yield* messaging.connect(generateIdentity())
        const b = yield* messaging.connect(generateIdentity())
        const group = yield* a.createGroup([b.inboxId], { name: "cli" })
        yield* a.sendText(group.id, "over the wire")
        expect((yield* b.messages(group.id)).filter((m) => m.text).map((m) => m.text)).toEqual(["over the wire"])
        const exited = yield* Effect.callback<number | null>((resume) => {
          child.once("exit", (code) => resume(Effect.succeed(code)))
          child.kill("SIGTERM")
        })
        expect(exited).toBe(0)
      }).pipe(Effect.scoped),
    30_000,
  )
})
