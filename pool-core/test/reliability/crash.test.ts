import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startFakeCloud } from "./crash/fake-cloud.ts"

// kill -9 the manager while 20 claims are being provisioned, restart it, and check that every instance ends idle,
// claimed (with its invite) or crashed (with a reason), no claim is lost or doubled, and nothing is leaked at the
// (fake, loopback) provider. Runs on Postgres when DATABASE_URL is set (own schema), else on persisted PGlite.

const managerEntry = fileURLToPath(new URL("./crash/manager.ts", import.meta.url))
const serverUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL
const schema = `crash_${randomBytes(4).toString("hex")}`
const dataDir = mkdtempSync(join(tmpdir(), "convos-crash-"))
let cloud: Awaited<ReturnType<typeof startFakeCloud>>
const children: ChildProcess[] = []

const psql = async (query: string) => {
  const { SQL } = await import("./crash/sql.ts")
  return SQL(serverUrl!, query)
}

const startManager = () =>
  new Promise<{ child: ChildProcess; url: string }>((resolve, reject) => {
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      FAKE_CLOUD_URL: cloud.url(),
      DATA_DIR: dataDir,
      POOL_MIN_IDLE: "0",
      POOL_MAX_TOTAL: "40",
      POOL_TICK_INTERVAL: "300 millis",
      // The restarted manager confirms the killed one is gone over a second of ticks (the default is 15 s).
      POOL_REPLICA_GONE_AFTER: "1 second",
      POOL_TOKEN_SECRET: "crash-secret",
      POOL_PROVISION_TIMEOUT: "20 seconds",
    }
    delete env.DATABASE_URL
    if (serverUrl) env.DATABASE_URL = `${serverUrl}${serverUrl.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`
    const child = spawn(process.execPath, ["--import", "tsx", managerEntry], { env, stdio: ["ignore", "pipe", "pipe"] })
    children.push(child)
    let out = ""
    const timer = setTimeout(() => reject(new Error(`manager did not start: ${out}`)), 60_000)
    child.stdout!.on("data", (d) => {
      out += d
      const m = /READY (\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve({ child, url: m[1]! })
      }
    })
    child.stderr!.on("data", (d) => (out += d))
    child.on("exit", (code) => code !== null && code !== 0 && reject(new Error(`manager exited ${code}: ${out}`)))
  })

const api = (base: string) => ({
  get: async (path: string) => (await fetch(`${base}${path}`, { headers: { authorization: "Bearer crash-key" } })).json(),
  post: (path: string, body: unknown, key?: string) =>
    fetch(`${base}${path}`, {
      method: "POST",
      headers: { authorization: "Bearer crash-key", "content-type": "application/json", ...(key ? { "idempotency-key": key } : {}) },
      body: JSON.stringify(body),
    }),
})

const waitFor = async (what: string, check: () => Promise<boolean>, ms = 30_000) => {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`timed out waiting for ${what}`)
}

beforeAll(async () => {
  cloud = await startFakeCloud({ provisionMs: 1_500 })
  if (serverUrl) await psql(`CREATE SCHEMA ${schema}`)
})
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL")
  await cloud?.close()
  if (serverUrl) await psql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  rmSync(dataDir, { recursive: true, force: true })
})

describe("manager crash mid-provision", () => {
  it("kill -9 during 20 claims, restart: every claim resolved once, nothing leaked", { timeout: 180_000 }, async () => {
    const first = await startManager()
    const a = api(first.url)
    expect((await a.post("/api/pool/replenish", { count: 20 })).status).toBe(200)
    await waitFor("20 idle", async () => (await a.get("/api/pool/counts")).idle === 20)

    const keys = Array.from({ length: 20 }, (_, i) => `crash-claim-${i}`)
    const inFlight = keys.map((k) => a.post("/api/pool/claim", { agentName: `Agent ${k}` }, k).catch(() => null))
    await waitFor("provisioning under way", async () => [...cloud.instances.values()].filter((i) => i.provision).length >= 10, 10_000)
    first.child.kill("SIGKILL")
    await Promise.all(inFlight)
    await new Promise((r) => first.child.exitCode !== null || first.child.signalCode ? r(null) : first.child.once("exit", r))

    const second = await startManager()
    const b = api(second.url)
    await waitFor("no claim left in claiming", async () => (await b.get("/api/pool/counts")).claiming === 0)
    const { instances } = (await b.get("/api/pool/instances")) as { instances: Array<{ id: string; status: string; inviteUrl: string | null; lastError: string | null }> }
    for (const i of instances) {
      expect(["idle", "claimed", "crashed"]).toContain(i.status)
      if (i.status === "claimed") expect(i.inviteUrl).toMatch(/^https:\/\//)
      if (i.status === "crashed") expect(i.lastError).toBeTruthy()
    }
    const counts = await b.get("/api/pool/counts")
    expect(counts.claimed + counts.crashed + counts.idle).toBe(20)
    expect(counts.claimed + counts.crashed).toBeLessThanOrEqual(20)

    // Asking again with the same keys never takes another instance: each replays its first outcome.
    const before = counts.idle
    for (const k of keys) await b.post("/api/pool/claim", { agentName: `Agent ${k}` }, k)
    const after = await b.get("/api/pool/counts")
    const claimedKeys = counts.claimed + counts.crashed
    // Keys whose claim never reached the database (killed before the statement) may claim now; none claims twice.
    expect(after.claimed + after.crashed).toBeLessThanOrEqual(20)
    expect(before - after.idle).toBeLessThanOrEqual(20 - claimedKeys)

    // Provider side: every instance the fake cloud runs has exactly one row; nothing destroyed twice.
    const refs = new Set(instances.map((i) => `fake-${i.id}`))
    for (const ref of cloud.instances.keys()) expect(refs.has(ref)).toBe(true)
    for (const n of cloud.deletes.values()) expect(n).toBe(1)
    second.child.kill("SIGTERM")
  })
})
