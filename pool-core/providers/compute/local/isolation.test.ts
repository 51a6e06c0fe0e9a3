// A local agent carries nothing of the manager's: the real local compute layer spawns a real `runtime start` (which
// starts the OpenClaw gateway) while this process (the "manager") has secrets in its environment; every process of
// the agent's group is then read through /proc: its environment holds none of them, and its cwd is its state dir.
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, ManagedRuntime } from "effect"
import { Compute } from "../Compute.ts"
import { localComputeLayer } from "./LocalCompute.ts"
import { groupMembers } from "./processes.ts"

const MARKER = "manager-secret-9f4c1e"
/** What a manager has in its environment that no agent may see (values carry the marker). */
const MANAGER_ENV: Record<string, string> = {
  POOL_TOKEN_SECRET: `${MARKER}-token-secret`,
  POOL_API_KEY: `${MARKER}-api-key`,
  DATABASE_URL: `postgres://postgres:${MARKER}@127.0.0.1:5432/pool`,
  MANAGER_PRIVATE_KEY: `0x${MARKER}`,
  TELNYX_API_KEY: `${MARKER}-telnyx`,
  BANKR_API_KEY: `${MARKER}-bankr`,
  AGENTMAIL_API_KEY: `${MARKER}-agentmail`,
  OPENROUTER_MANAGEMENT_KEY: `${MARKER}-openrouter`,
  RAILWAY_API_TOKEN: `${MARKER}-railway`,
  XMTP_DB_DIR: `/tmp/${MARKER}-manager-xmtp`,
  NODE_OPTIONS: `--conditions=${MARKER}`,
}

const ID = "isolation-agent-1"
let dataDir: string
let compute: ManagedRuntime.ManagedRuntime<Compute, unknown>
const saved: Record<string, string | undefined> = {}

beforeAll(() => {
  for (const [k, v] of Object.entries(MANAGER_ENV)) {
    saved[k] = process.env[k]
    process.env[k] = v
  }
  dataDir = mkdtempSync(join(tmpdir(), "local-isolation-"))
  compute = ManagedRuntime.make(
    localComputeLayer({ dataDir, baseEnv: { DEVNET_URL: "http://127.0.0.1:9" }, stopGraceMs: 3_000 }),
  )
})

afterAll(async () => {
  await compute?.dispose()
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
  rmSync(dataDir, { recursive: true, force: true })
}, 30_000)

const environOf = (pid: number): Map<string, string> =>
  new Map(
    readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)] as const),
  )

describe("a local agent's processes", () => {
  it("have none of the manager's environment, and run in the agent's state dir", async () => {
    await compute.runPromise(
      Effect.flatMap(Compute, (c) => c.create({ instanceId: ID, instanceToken: "agent-own-token", env: {} })),
    )
    const record = JSON.parse(readFileSync(join(dataDir, "instances", ID, "instance.json"), "utf8")) as { pid: number }
    const stateDir = join(dataDir, "instances", ID)
    // The runtime CLI replaces itself with the OpenClaw gateway (same pid): no wrapper process, no TypeScript loader.
    const cmdline = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8")
      } catch {
        return ""
      }
    }
    const deadline = Date.now() + 120_000
    while (!cmdline(record.pid).includes("openclaw") && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200))
    const members = groupMembers(record.pid)
    expect(members.some((pid) => cmdline(pid).includes("openclaw"))).toBe(true)
    expect(cmdline(record.pid)).toContain("openclaw") // the leader IS the gateway (`openclaw.mjs gateway run`, then its title)
    expect(members.filter((pid) => /tsx|runtime\/(src|dist)\/cli/.test(cmdline(pid)))).toEqual([])
    for (const pid of members) {
      const env = environOf(pid)
      for (const [name, value] of Object.entries(MANAGER_ENV)) {
        if (name === "XMTP_DB_DIR")
          expect(env.get(name)).toBe(join(stateDir, "xmtp")) // its own, not the manager's
        else expect(env.has(name), `${name} in the environment of pid ${pid}`).toBe(false)
        expect([...env.values()].some((v) => v.includes(value))).toBe(false)
      }
      expect([...env.entries()].filter(([, v]) => v.includes(MARKER))).toEqual([])
      // POOL_SERVICES_URL is the one pool setting an agent gets: where its typed tools reach the agent service API.
      expect([...env.keys()].filter((k) => k.startsWith("POOL_") && k !== "POOL_SERVICES_URL")).toEqual([])
      expect(env.get("INSTANCE_TOKEN")).toBe("agent-own-token")
      expect(readlinkSync(`/proc/${pid}/cwd`)).toBe(stateDir)
    }
    await compute.runPromise(Effect.flatMap(Compute, (c) => c.destroy(ID)))
    expect(groupMembers(record.pid)).toEqual([])
  }, 180_000)
})
