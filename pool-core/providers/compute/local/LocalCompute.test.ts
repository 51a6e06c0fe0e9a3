// Local compute without waiting for a gateway: stale pid files, refusing to adopt foreign pids, stopping every child
// when the layer's scope closes while keeping its state, and starting it again from that state in a new layer.
// (The full spawn → ready → re-adopt → destroy path with a real gateway is runtime/test/e2e.test.ts; Ctrl-C and a
// restart of `npm start` with a claimed agent is server/test/restart-e2e.test.ts.)
import { spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { ConfigProvider, Effect, Exit, Layer, ManagedRuntime } from "effect"
import { Compute } from "../Compute.ts"
import { localComputeLayer } from "./LocalCompute.ts"
import { groupMembers, isAlive } from "./processes.ts"

/** Processes a test started and must not leave behind. */
const started: number[] = []
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {}
  }
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const waitFor = async (what: string, ok: () => boolean, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

/**
 * What a crashed runtime leaves: its CLI (a process group leader, like local compute spawns it) started a
 * long-lived "gateway" child in its group and then died. Returns the dead CLI's pid (= the group id) and the live
 * gateway's pid. Both carry OPENCLAW_STATE_DIR=<stateDir> as local compute's runtimes do.
 */
const orphanedGateway = async (stateDir: string) => {
  mkdirSync(stateDir, { recursive: true })
  const pidFile = join(stateDir, "gateway.pid")
  const script = `const { spawn } = require("node:child_process");
const c = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
require("node:fs").writeFileSync(process.argv[1], String(c.pid));
c.unref();`
  const cli = spawn(process.execPath, ["-e", script, pidFile], {
    detached: true,
    stdio: "ignore",
    env: { PATH: process.env.PATH ?? "", OPENCLAW_STATE_DIR: stateDir },
  })
  const cliPid = cli.pid!
  await new Promise((resolve) => cli.once("exit", resolve))
  const gateway = Number(readFileSync(pidFile, "utf8"))
  started.push(gateway)
  await waitFor("the CLI to be reaped", () => !isAlive(cliPid))
  expect(isAlive(gateway)).toBe(true)
  expect(groupMembers(cliPid)).toEqual([gateway]) // the group outlives its leader
  return { cliPid, gateway }
}

const writeRecord = (stateDir: string, id: string, pid: number) =>
  writeFileSync(
    join(stateDir, "instance.json"),
    JSON.stringify({ instanceId: id, pid, port: 1, startedAt: new Date().toISOString() }),
  )

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
const dataDir = () => {
  const d = mkdtempSync(join(tmpdir(), "local-compute-"))
  dirs.push(d)
  return d
}
const use = <A, E>(
  rt: ManagedRuntime.ManagedRuntime<Compute, unknown>,
  f: (c: Compute["Service"]) => Effect.Effect<A, E>,
) =>
  rt.runPromise(
    Effect.gen(function* () {
      return yield* f(yield* Compute)
    }),
  )

describe("local compute", () => {
  it("keeps the state of instances whose process is gone (no token recorded to restart them) and does not adopt a live process that is not our runtime", async () => {
    const dir = dataDir()
    const write = (id: string, pid: number) => {
      mkdirSync(join(dir, "instances", id), { recursive: true })
      writeFileSync(
        join(dir, "instances", id, "instance.json"),
        JSON.stringify({ instanceId: id, pid, port: 1, startedAt: new Date().toISOString() }),
      )
    }
    write("dead-one", 2 ** 22 + 12345) // above the default pid_max: never a live process
    write("foreign", process.pid) // alive, but it is the test runner, not a runtime
    const rt = ManagedRuntime.make(localComputeLayer({ dataDir: dir }))
    try {
      const status = await use(rt, (c) =>
        c.statusBatch([
          { providerRef: "dead-one", providerProjectRef: null },
          { providerRef: "foreign", providerProjectRef: null },
        ]),
      )
      expect(status.get("dead-one")?.state).toBe("failed")
      expect(status.get("foreign")?.state).toBe("failed")
      expect(status.get("foreign")?.detail).toContain("its state is kept")
      // Stop is not destroy: only the pool's destroy removes an instance's state.
      expect(existsSync(join(dir, "instances", "dead-one", "instance.json"))).toBe(true)
      expect(existsSync(join(dir, "instances", "foreign", "instance.json"))).toBe(true)
    } finally {
      await rt.dispose()
    }
    expect(isAlive(process.pid)).toBe(true)
  })

  it("an instance whose CLI died: a new layer stops the gateway left in its process group and keeps the state dir (.env) until destroy", async () => {
    const dir = dataDir()
    const stateDir = join(dir, "instances", "crashed-cli")
    const { cliPid, gateway } = await orphanedGateway(stateDir)
    writeRecord(stateDir, "crashed-cli", cliPid)
    writeFileSync(join(stateDir, ".env"), 'OPENROUTER_API_KEY="sk-or-v1-leftover"\n', { mode: 0o600 })
    const rt = ManagedRuntime.make(localComputeLayer({ dataDir: dir, stopGraceMs: 2_000 }))
    try {
      const status = await use(rt, (c) => c.statusBatch([{ providerRef: "crashed-cli", providerProjectRef: null }]))
      expect(status.get("crashed-cli")?.state).toBe("failed")
      await waitFor("the orphaned gateway to exit", () => !isAlive(gateway))
      expect(readFileSync(join(stateDir, ".env"), "utf8")).toContain("sk-or-v1-leftover")
      await use(rt, (c) => c.destroy("crashed-cli"))
      expect(existsSync(stateDir)).toBe(false)
    } finally {
      await rt.dispose()
    }
  }, 20_000)

  it("destroy stops the instance's process group even when its CLI is already dead", async () => {
    const dir = dataDir()
    const rt = ManagedRuntime.make(localComputeLayer({ dataDir: dir, stopGraceMs: 2_000 }))
    try {
      await use(rt, () => Effect.void) // layer up (nothing to reap yet)
      const stateDir = join(dir, "instances", "half-dead")
      const { cliPid, gateway } = await orphanedGateway(stateDir)
      writeRecord(stateDir, "half-dead", cliPid)
      await use(rt, (c) => c.destroy("half-dead"))
      await waitFor("the orphaned gateway to exit", () => !isAlive(gateway)) // (reaped by init: a moment later)
      expect(existsSync(stateDir)).toBe(false)
    } finally {
      await rt.dispose()
    }
  }, 20_000)

  it("never signals a process group that /proc shows is not the instance's (a reused pgid)", async () => {
    const dir = dataDir()
    const stranger = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
      detached: true,
      stdio: "ignore",
      env: { PATH: process.env.PATH ?? "", OPENCLAW_STATE_DIR: "/somewhere/else" },
    })
    started.push(stranger.pid!)
    const stateDir = join(dir, "instances", "reused-pgid")
    mkdirSync(stateDir, { recursive: true })
    writeRecord(stateDir, "reused-pgid", stranger.pid!)
    const rt = ManagedRuntime.make(localComputeLayer({ dataDir: dir, stopGraceMs: 500 }))
    try {
      await use(rt, (c) => c.destroy("reused-pgid"))
      await sleep(300)
      expect(isAlive(stranger.pid!)).toBe(true)
      expect(existsSync(stateDir)).toBe(false)
    } finally {
      await rt.dispose()
    }
  }, 20_000)

  it("rejects an unsafe instance id with a ProviderError", async () => {
    const rt = ManagedRuntime.make(localComputeLayer({ dataDir: dataDir() }))
    try {
      const exit = await rt.runPromiseExit(
        Effect.gen(function* () {
          return yield* (yield* Compute).create({ instanceId: "../escape", instanceToken: "t", env: {} })
        }),
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expect(JSON.stringify(exit)).toContain("must be [A-Za-z0-9_-]")
    } finally {
      await rt.dispose()
    }
  })

  it("spawns a runtime process on a loopback port with its own state dir and the pool's runtime env, and stops it when the scope closes", async () => {
    const dir = dataDir()
    // The pool's config (as env vars): the runtime env is built from it; master keys never reach the agent.
    const config = ConfigProvider.layer(
      ConfigProvider.fromUnknown({
        OPENROUTER_BASE_URL: "https://openrouter.ai",
        OPENCLAW_PRIMARY_MODEL: "openai/gpt-5-mini",
        CONVOS_INVITE_BASE_URL: "https://invite.example/v2?i=",
        OPENROUTER_MANAGEMENT_KEY: "sk-or-mgmt-must-not-leak",
      }),
    )
    const rt = ManagedRuntime.make(
      localComputeLayer({ dataDir: dir, stopGraceMs: 5_000, baseEnv: { DEVNET_URL: "http://127.0.0.1:9" } }).pipe(
        Layer.provide(config),
      ),
    )
    // spec.env stays empty, as the pool sends it
    const handle = await use(rt, (c) => c.create({ instanceId: "scope-test", instanceToken: "tok", env: {} }))
    expect(handle.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const record = JSON.parse(readFileSync(join(dir, "instances", "scope-test", "instance.json"), "utf8")) as {
      pid: number
      port: number
    }
    expect(handle.url).toBe(`http://127.0.0.1:${record.port}`)
    expect(isAlive(record.pid)).toBe(true)
    const environ = Object.fromEntries(
      readFileSync(`/proc/${record.pid}/environ`, "utf8")
        .split("\0")
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    )
    expect(environ).toMatchObject({
      DEVNET_URL: "http://127.0.0.1:9",
      OPENROUTER_BASE_URL: "https://openrouter.ai/api/v1",
      OPENCLAW_PRIMARY_MODEL: "openai/gpt-5-mini",
      CONVOS_INVITE_BASE_URL: "https://invite.example/v2?i=",
      INSTANCE_ID: "scope-test",
      INSTANCE_TOKEN: "tok",
      OPENCLAW_STATE_DIR: join(dir, "instances", "scope-test"),
    })
    expect(JSON.stringify(environ)).not.toContain("sk-or-mgmt-must-not-leak")
    const status = await use(rt, (c) => c.statusBatch([{ providerRef: "scope-test", providerProjectRef: null }]))
    expect(["starting", "running"]).toContain(status.get("scope-test")?.state)
    await rt.dispose()
    expect(isAlive(record.pid)).toBe(false)
    expect(existsSync(join(dir, "instances", "scope-test", "instance.json"))).toBe(true)
  }, 60_000)

  it("closing the scope (Ctrl-C) stops the runtime but keeps its state; the next layer starts it again from that state, same token and port; only destroy removes it", async () => {
    const dir = dataDir()
    const stateDir = join(dir, "instances", "restart-me")
    const layer = () =>
      localComputeLayer({ dataDir: dir, stopGraceMs: 5_000, baseEnv: { DEVNET_URL: "http://127.0.0.1:9" } })
    const environOf = (pid: number) =>
      Object.fromEntries(
        readFileSync(`/proc/${pid}/environ`, "utf8")
          .split("\0")
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
      )
    const first = ManagedRuntime.make(layer())
    const handle = await use(first, (c) =>
      c.create({ instanceId: "restart-me", instanceToken: "tok-restart", env: { AGENT_NAME: "Kept" } }),
    )
    const before = JSON.parse(readFileSync(join(stateDir, "instance.json"), "utf8")) as { pid: number; port: number }
    // What the agent keeps between runs (its identity, conversations, provision secrets) lives in the state dir.
    writeFileSync(join(stateDir, ".env"), 'OPENROUTER_API_KEY="sk-or-v1-kept"\n', { mode: 0o600 })
    await first.dispose()
    expect(isAlive(before.pid)).toBe(false)
    expect(readFileSync(join(stateDir, ".env"), "utf8")).toContain("sk-or-v1-kept")
    expect(JSON.parse(readFileSync(join(stateDir, "instance.json"), "utf8"))).toMatchObject({
      stoppedAt: expect.any(String),
    })

    const second = ManagedRuntime.make(layer())
    try {
      const status = await use(second, (c) => c.statusBatch([{ providerRef: "restart-me", providerProjectRef: null }]))
      expect(["starting", "running"]).toContain(status.get("restart-me")?.state)
      expect(status.get("restart-me")?.url).toBe(handle.url) // same port: the pool's recorded URL still reaches it
      const after = JSON.parse(readFileSync(join(stateDir, "instance.json"), "utf8")) as {
        pid: number
        port: number
        stoppedAt?: string
      }
      expect(after.pid).not.toBe(before.pid)
      expect(after.stoppedAt).toBeUndefined()
      expect(isAlive(after.pid)).toBe(true)
      expect(environOf(after.pid)).toMatchObject({
        INSTANCE_ID: "restart-me",
        INSTANCE_TOKEN: "tok-restart",
        AGENT_NAME: "Kept",
        OPENCLAW_STATE_DIR: stateDir,
        PORT: String(before.port),
      })
      expect(readFileSync(join(stateDir, ".env"), "utf8")).toContain("sk-or-v1-kept")
      await use(second, (c) => c.destroy("restart-me"))
      expect(isAlive(after.pid)).toBe(false)
      expect(existsSync(stateDir)).toBe(false)
    } finally {
      await second.dispose()
    }
  }, 90_000)

  it("after a machine restart (the process is gone, nobody stopped it) the next layer starts the instance again from its state", async () => {
    const dir = dataDir()
    const stateDir = join(dir, "instances", "rebooted")
    mkdirSync(stateDir, { recursive: true })
    const gonePid = 2 ** 22 + 4242
    writeFileSync(
      join(stateDir, "instance.json"),
      JSON.stringify({
        instanceId: "rebooted",
        pid: gonePid,
        port: 1,
        startedAt: new Date().toISOString(),
        instanceToken: "tok-rebooted",
        env: {},
      }),
    )
    const rt = ManagedRuntime.make(
      localComputeLayer({ dataDir: dir, stopGraceMs: 2_000, baseEnv: { DEVNET_URL: "http://127.0.0.1:9" } }),
    )
    try {
      const status = await use(rt, (c) => c.statusBatch([{ providerRef: "rebooted", providerProjectRef: null }]))
      expect(["starting", "running"]).toContain(status.get("rebooted")?.state)
      const record = JSON.parse(readFileSync(join(stateDir, "instance.json"), "utf8")) as { pid: number }
      expect(record.pid).not.toBe(gonePid)
      expect(isAlive(record.pid)).toBe(true)
      expect(readFileSync(`/proc/${record.pid}/environ`, "utf8").split("\0")).toContain("INSTANCE_TOKEN=tok-rebooted")
    } finally {
      await rt.dispose()
    }
  }, 60_000)

  it("an instance that exited on its own while watched is not started again by the next layer: the pool decides", async () => {
    const dir = dataDir()
    const stateDir = join(dir, "instances", "crashed-alone")
    mkdirSync(stateDir, { recursive: true })
    const dead = 2 ** 22 + 54321
    writeFileSync(
      join(stateDir, "instance.json"),
      JSON.stringify({
        instanceId: "crashed-alone",
        pid: dead,
        port: 1,
        startedAt: new Date().toISOString(),
        instanceToken: "t",
        env: {},
        exitedAt: new Date().toISOString(),
        exitCode: 1,
      }),
    )
    const rt = ManagedRuntime.make(localComputeLayer({ dataDir: dir }))
    try {
      const status = await use(rt, (c) => c.statusBatch([{ providerRef: "crashed-alone", providerProjectRef: null }]))
      expect(status.get("crashed-alone")).toMatchObject({
        state: "failed",
        detail: expect.stringContaining("exited on its own"),
      })
      expect((JSON.parse(readFileSync(join(stateDir, "instance.json"), "utf8")) as { pid: number }).pid).toBe(dead)
    } finally {
      await rt.dispose()
    }
    expect(existsSync(stateDir)).toBe(true)
  })

  it("restart (the owner's /restart): a crashed instance the layer left stopped starts again on its state, token and env", async () => {
    const dir = dataDir()
    const stateDir = join(dir, "instances", "owner-restart")
    mkdirSync(stateDir, { recursive: true })
    const dead = 2 ** 22 + 54322
    writeFileSync(join(stateDir, ".env"), 'OPENROUTER_API_KEY="sk-or-v1-kept"\n', { mode: 0o600 })
    writeFileSync(
      join(stateDir, "instance.json"),
      JSON.stringify({
        instanceId: "owner-restart",
        pid: dead,
        port: 1,
        startedAt: new Date().toISOString(),
        instanceToken: "tok-owner-restart",
        env: { AGENT_NAME: "Kept" },
        exitedAt: new Date().toISOString(),
        exitCode: 1,
      }),
    )
    const rt = ManagedRuntime.make(
      localComputeLayer({ dataDir: dir, stopGraceMs: 2_000, baseEnv: { DEVNET_URL: "http://127.0.0.1:9" } }),
    )
    try {
      const ask = () => use(rt, (c) => c.statusBatch([{ providerRef: "owner-restart", providerProjectRef: null }]))
      expect((await ask()).get("owner-restart")?.state).toBe("failed")
      const handle = await use(rt, (c) => c.restart!("owner-restart"))
      const record = JSON.parse(readFileSync(join(stateDir, "instance.json"), "utf8")) as { pid: number; port: number }
      expect(record.pid).not.toBe(dead)
      expect(isAlive(record.pid)).toBe(true)
      started.push(record.pid)
      expect(handle.url).toBe(`http://127.0.0.1:${record.port}`)
      const environ = readFileSync(`/proc/${record.pid}/environ`, "utf8").split("\0")
      expect(environ).toContain("INSTANCE_TOKEN=tok-owner-restart")
      expect(environ).toContain("AGENT_NAME=Kept")
      expect(environ).toContain(`OPENCLAW_STATE_DIR=${stateDir}`)
      expect(readFileSync(join(stateDir, ".env"), "utf8")).toContain("sk-or-v1-kept")
      expect(["starting", "running"]).toContain((await ask()).get("owner-restart")?.state)
      const unknown = await rt.runPromiseExit(
        Effect.gen(function* () {
          return yield* (yield* Compute).restart!("never-created")
        }),
      )
      expect(JSON.stringify(unknown)).toContain("no record with a token")
      await use(rt, (c) => c.destroy("owner-restart"))
      expect(isAlive(record.pid)).toBe(false)
    } finally {
      await rt.dispose()
    }
  }, 60_000)

  it("a runtime that exits on its own is started again from its state with backoff, up to maxRestarts; then it stays stopped and says so", async () => {
    const dir = dataDir()
    const stateDir = join(dir, "instances", "crashy")
    const rt = ManagedRuntime.make(
      localComputeLayer({
        dataDir: dir,
        stopGraceMs: 2_000,
        baseEnv: { DEVNET_URL: "http://127.0.0.1:9" },
        restartOnFailure: { maxRestarts: 2, baseDelayMs: 100 },
      }),
    )
    const pidOf = () => (JSON.parse(readFileSync(join(stateDir, "instance.json"), "utf8")) as { pid: number }).pid
    const crash = async () => {
      const pid = pidOf()
      process.kill(-pid, "SIGKILL") // the whole group, as an OOM kill or a crash would end it
      await waitFor(`process ${pid} to end`, () => !isAlive(pid))
      return pid
    }
    try {
      const handle = await use(rt, (c) => c.create({ instanceId: "crashy", instanceToken: "tok-crashy", env: {} }))
      for (let restart = 1; restart <= 2; restart++) {
        const crashed = await crash()
        await waitFor(`restart ${restart}`, () => pidOf() !== crashed && isAlive(pidOf()), 15_000)
        const status = await use(rt, (c) => c.statusBatch([{ providerRef: "crashy", providerProjectRef: null }]))
        expect(["starting", "running"]).toContain(status.get("crashy")?.state)
        expect(status.get("crashy")?.url).toBe(handle.url) // same port, same state dir
      }
      await crash()
      await sleep(500) // longer than the next backoff (400 ms): no third restart
      const status = await use(rt, (c) => c.statusBatch([{ providerRef: "crashy", providerProjectRef: null }]))
      expect(status.get("crashy")?.state).toBe("failed")
      expect(JSON.parse(readFileSync(join(stateDir, "instance.json"), "utf8"))).toMatchObject({
        exitedAt: expect.any(String),
      })
      expect(existsSync(stateDir)).toBe(true)
    } finally {
      await rt.dispose()
    }
  }, 90_000)
})
