// Local compute without waiting for a gateway: reaping stale pid files, refusing to adopt foreign pids, and killing
// every child when the layer's scope closes. (The full spawn → ready → re-adopt → destroy path with a real gateway is
// runtime/test/e2e.test.ts.)
import { mkdirSync, mkdtempSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { Effect, Exit, ManagedRuntime } from "effect"
import { Compute } from "../Compute.ts"
import { localComputeLayer } from "./LocalCompute.ts"
import { isAlive } from "./processes.ts"

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
const dataDir = () => {
  const d = mkdtempSync(join(tmpdir(), "local-compute-"))
  dirs.push(d)
  return d
}
const use = <A, E>(rt: ManagedRuntime.ManagedRuntime<Compute, unknown>, f: (c: Compute["Service"]) => Effect.Effect<A, E>) =>
  rt.runPromise(Effect.gen(function* () {
    return yield* f(yield* Compute)
  }))

describe("local compute", () => {
  it("reaps pid files of dead processes and does not adopt a live process that is not our runtime", async () => {
    const dir = dataDir()
    const write = (id: string, pid: number) => {
      mkdirSync(join(dir, "instances", id), { recursive: true })
      writeFileSync(join(dir, "instances", id, "instance.json"), JSON.stringify({ instanceId: id, pid, port: 1, startedAt: new Date().toISOString() }))
    }
    write("dead-one", 2 ** 22 + 12345) // above the default pid_max: never a live process
    write("foreign", process.pid) // alive, but it is the test runner, not a runtime
    const rt = ManagedRuntime.make(localComputeLayer({ dataDir: dir }))
    try {
      const status = await use(rt, (c) => c.statusBatch([{ providerRef: "dead-one", providerProjectRef: null }, { providerRef: "foreign", providerProjectRef: null }]))
      expect(status.get("dead-one")?.state).toBe("gone")
      expect(status.get("foreign")?.state).toBe("gone")
      expect(existsSync(join(dir, "instances", "dead-one", "instance.json"))).toBe(false)
      expect(existsSync(join(dir, "instances", "foreign", "instance.json"))).toBe(false)
    } finally {
      await rt.dispose()
    }
    expect(isAlive(process.pid)).toBe(true)
  })

  it("rejects an unsafe instance id with a ProviderError", async () => {
    const rt = ManagedRuntime.make(localComputeLayer({ dataDir: dataDir() }))
    try {
      const exit = await rt.runPromiseExit(Effect.gen(function* () {
        return yield* (yield* Compute).create({ instanceId: "../escape", instanceToken: "t", env: {} })
      }))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(JSON.stringify(exit)).toContain("must be [A-Za-z0-9_-]")
    } finally {
      await rt.dispose()
    }
  })

  it("spawns a runtime process on a loopback port with its own state dir, and stops it when the scope closes", async () => {
    const dir = dataDir()
    const rt = ManagedRuntime.make(localComputeLayer({ dataDir: dir, stopGraceMs: 5_000, baseEnv: { DEVNET_URL: "http://127.0.0.1:9" } }))
    const handle = await use(rt, (c) => c.create({ instanceId: "scope-test", instanceToken: "tok", env: { AGENT_NAME: "Scoped" } }))
    expect(handle.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const record = JSON.parse(readFileSync(join(dir, "instances", "scope-test", "instance.json"), "utf8")) as { pid: number; port: number }
    expect(handle.url).toBe(`http://127.0.0.1:${record.port}`)
    expect(isAlive(record.pid)).toBe(true)
    const status = await use(rt, (c) => c.statusBatch([{ providerRef: "scope-test", providerProjectRef: null }]))
    expect(["starting", "running"]).toContain(status.get("scope-test")?.state)
    await rt.dispose()
    expect(isAlive(record.pid)).toBe(false)
    expect(existsSync(join(dir, "instances", "scope-test", "instance.json"))).toBe(false)
  }, 60_000)
})
