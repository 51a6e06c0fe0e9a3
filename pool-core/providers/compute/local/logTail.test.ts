import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, ManagedRuntime } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { Compute } from "../Compute.ts"
import { localComputeLayer } from "./LocalCompute.ts"

// Starting and stopping test pools takes minutes on a loaded 2-core machine.
const HOOK_TIMEOUT = 600_000

// The admin page's log tail from local compute: the end of the child's runtime.log in its state dir, whole lines,
// credentials masked.

const dir = mkdtempSync(join(tmpdir(), "convos-logtail-"))
const runtime = ManagedRuntime.make(localComputeLayer({ dataDir: dir }))
afterAll(async () => {
  await runtime.dispose()
  rmSync(dir, { recursive: true, force: true })
}, HOOK_TIMEOUT)

const tail = (ref: string, maxBytes: number) =>
  runtime.runPromise(Effect.flatMap(Compute, (c) => c.logTail!(ref, maxBytes)))

describe("local compute log tail", { timeout: 120_000 }, () => {
  it("gives the last bytes of runtime.log from a line start, with keys and tokens masked", async () => {
    const stateDir = join(dir, "instances", "inst-1")
    mkdirSync(stateDir, { recursive: true })
    const early = Array.from({ length: 500 }, (_, n) => `early line ${n}`).join("\n")
    writeFileSync(
      join(stateDir, "runtime.log"),
      `${early}\ngateway listening on 127.0.0.1:4321\nOPENROUTER_API_KEY=sk-or-v1-abcdef0123456789 loaded\nAuthorization: Bearer tok_0123456789abcdef\nlast line\n`,
    )
    const text = await tail("inst-1", 200)
    expect(text.length).toBeLessThanOrEqual(200)
    expect(text.endsWith("last line\n")).toBe(true)
    expect(text).not.toContain("early line 0")
    expect(text.split("\n")[0]).toMatch(/^(early line \d+|gateway listening on 127\.0\.0\.1:4321)$/)
    expect(text).toContain("gateway listening on 127.0.0.1:4321")
    expect(text).not.toContain("sk-or-v1-abcdef0123456789")
    expect(text).not.toContain("tok_0123456789abcdef")
    expect(text).toContain("OPENROUTER_API_KEY=…(masked)")
    expect(text).toContain("Bearer …(masked)")
  })

  it("says so when there is no log, and refuses a ref that is not an instance id", async () => {
    expect(await tail("never-started", 1000)).toContain("no runtime.log")
    const bad = await runtime.runPromiseExit(Effect.flatMap(Compute, (c) => c.logTail!("../../etc", 1000)))
    expect(JSON.stringify(bad)).toContain("Not an instance id")
  })
})
