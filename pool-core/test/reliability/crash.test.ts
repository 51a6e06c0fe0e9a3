import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startFakeCloud } from "./crash/fake-cloud.ts"

// kill -9 the manager while 20 claims are being provisioned (10 provisions with a runtime, 10 not yet), restart it,
// and check that every claimed key ends claimed (with its runtime's invite) or crashed (with a reason), never idle,
// that replays answer each key's first outcome and take no other instance, and nothing leaks at the (fake, loopback)
// provider. Runs on Postgres when DATABASE_URL is set (own schema), else on persisted PGlite.

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
    if (serverUrl)
      env.DATABASE_URL = `${serverUrl}${serverUrl.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`
    const child = spawn(process.execPath, ["--import", "tsx", managerEntry], { env, stdio: ["ignore", "pipe", "pipe"] })
    children.push(child)
    let out = ""
    // A guard against a hang, not a performance bound: start-up on a busy shared machine can take a minute.
    const timer = setTimeout(() => reject(new Error(`manager did not start within 3 minutes: ${out}`)), 180_000)
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
  get: async (path: string) =>
    (await fetch(`${base}${path}`, { headers: { authorization: "Bearer crash-key" } })).json(),
  post: (path: string, body: unknown, key?: string) =>
    fetch(`${base}${path}`, {
      method: "POST",
      headers: {
        authorization: "Bearer crash-key",
        "content-type": "application/json",
        ...(key ? { "idempotency-key": key } : {}),
      },
      body: JSON.stringify(body),
    }),
})

// ms guards against a hang; it bounds nothing the test asserts.
const waitFor = async (what: string, check: () => Promise<boolean>, ms = 120_000) => {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`timed out waiting for ${what}`)
}

beforeAll(async () => {
  cloud = await startFakeCloud({ provisionMs: 1_500, acceptProvisions: 10, setupsWaitForTest: true })
  if (serverUrl) await psql(`CREATE SCHEMA ${schema}`)
})
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL")
  await cloud?.close()
  if (serverUrl) await psql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  rmSync(dataDir, { recursive: true, force: true })
})

type Row = { id: string; status: string; inviteUrl: string | null; lastError: string | null }

describe("manager crash mid-provision", () => {
  it("kill -9 when 10 of 20 provisions reached a runtime: those end claimed, the others crashed with a reason; replays take nothing else", {
    timeout: 600_000,
  }, async () => {
    const first = await startManager()
    const a = api(first.url)
    // 30 idle: 20 claims take 20, the 10 spare ones show whether a replay after the restart takes another instance.
    expect((await a.post("/api/pool/replenish", { count: 20 })).status).toBe(200)
    expect((await a.post("/api/pool/replenish", { count: 10 })).status).toBe(200)
    await waitFor("30 idle", async () => (await a.get("/api/pool/counts")).idle === 30)

    const keys = Array.from({ length: 20 }, (_, i) => `crash-claim-${i}`)
    const inFlight = keys.map((k) => a.post("/api/pool/claim", { agentName: `Agent ${k}` }, k).catch(() => null))
    // Every claim has picked its instance and sent its provision: 10 are with a runtime (mid-setup: the fake cloud
    // lets them finish only when told), 10 still held in the network. That is the moment of the kill.
    await waitFor("20 provision requests at the cloud", async () => cloud.provisionRequests() === 20)
    const provisioned = [...cloud.instances.values()].filter((i) => i.provision)
    expect(provisioned).toHaveLength(10)
    expect(
      provisioned.every((i) => i.inviteUrl === null),
      "the kill lands while the runtimes are still setting up",
    ).toBe(true)
    first.child.kill("SIGKILL")
    await Promise.all(inFlight)
    await new Promise((r) =>
      first.child.exitCode !== null || first.child.signalCode ? r(null) : first.child.once("exit", r),
    )
    // The runtimes finish their setup while no manager runs.
    cloud.finishSetups()
    await waitFor("the 10 runtimes to finish setting up", async () => provisioned.every((i) => i.inviteUrl !== null))

    const second = await startManager()
    const b = api(second.url)
    await waitFor("no claim left in claiming", async () => (await b.get("/api/pool/counts")).claiming === 0)
    const listed = ((await b.get("/api/pool/instances")) as { instances: Row[] }).instances
    const byId = new Map(listed.map((i) => [i.id, i]))
    const counts = await b.get("/api/pool/counts")
    expect(counts.crashed, "the claims whose provision never reached a runtime").toBe(10)
    expect(counts.claimed, "the claims a runtime finished while the manager was down").toBe(10)
    expect(counts.idle).toBe(10)

    // Every key that has a claims row: its instance is claimed (the runtime finished: with that runtime's invite) or
    // crashed with a reason (the runtime never got it), never idle again for someone else.
    const claims = (await b.get("/test/claims")) as Array<{ key: string; instanceId: string }>
    expect(claims.map((c) => c.key).sort()).toEqual([...keys].sort())
    expect(new Set(claims.map((c) => c.instanceId)).size).toBe(20)
    for (const { key, instanceId } of claims) {
      const row = byId.get(instanceId)!
      const atCloud = cloud.instances.get(`fake-${instanceId}`)!
      if (atCloud.provision) {
        expect(row.status, key).toBe("claimed")
        expect(row.inviteUrl, key).toBe(atCloud.inviteUrl)
      } else {
        expect(row.status, key).toBe("crashed")
        expect(row.lastError, key).toMatch(/interrupted/)
      }
    }

    // Asking again with the same keys replays each first outcome: the same instance, or the same failure.
    for (const { key, instanceId } of claims) {
      const res = await b.post("/api/pool/claim", { agentName: `Agent ${key}` }, key)
      const body = (await res.json()) as { instanceId?: string; replayed?: boolean; error?: string }
      if (byId.get(instanceId)!.status === "claimed") {
        expect([res.status, body.instanceId, body.replayed], key).toEqual([200, instanceId, true])
      } else {
        expect(res.status, key).toBe(502)
        expect(body.error, key).toContain(byId.get(instanceId)!.lastError!)
      }
    }
    const after = ((await b.get("/api/pool/instances")) as { instances: Row[] }).instances
    expect(after.map((i) => [i.id, i.status]).sort()).toEqual(listed.map((i) => [i.id, i.status]).sort())

    // Provider side: every instance the fake cloud runs has exactly one row; nothing destroyed twice.
    const refs = new Set(listed.map((i) => `fake-${i.id}`))
    for (const ref of cloud.instances.keys()) expect(refs.has(ref)).toBe(true)
    for (const n of cloud.deletes.values()) expect(n).toBe(1)
    second.child.kill("SIGTERM")
  })
})
