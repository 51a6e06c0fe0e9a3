// Org keys never reach an agent. Through the real parts: a claim through PoolLive with live AgentResources over the
// loopback provider fakes (Telnyx, AgentMail, OpenRouter, Bankr Partner API) — the provision body is exactly what
// the runtime receives and writes into the agent's environment; and a real local runtime process spawned by local
// compute while the pool's own environment holds every org key — its /proc/<pid>/environ.
import { readFileSync } from "node:fs"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { ConfigProvider, Effect, Layer, ManagedRuntime } from "effect"
import { Pool } from "../../../pool/Pool.ts"
import { MemoryCloud } from "../../../pool/testing.ts"
import { apiKey as agentMailKey } from "../../agentmail/fake.ts"
import { partnerKey as bankrPartnerKey } from "../../bankr/fake.ts"
import { Compute } from "../../compute/Compute.ts"
import { localComputeLayer } from "../../compute/local/LocalCompute.ts"
import { isAlive } from "../../compute/local/processes.ts"
import { managementKey } from "../../openrouter/fake.ts"
import { apiKey as telnyxKey } from "../../telnyx/fake.ts"
import { poolOverProviderFakes } from "../../../api/test/server.ts"

const ORG_KEY_NAMES = [
  "TELNYX_API_KEY",
  "AGENTMAIL_API_KEY",
  "BANKR_API_KEY",
  "BANKR_PARTNER_KEY",
  "OPENROUTER_MANAGEMENT_KEY",
  "PRIVATE_WALLET_KEY",
]
const ORG_KEY_VALUES = [telnyxKey, agentMailKey, bankrPartnerKey, managementKey]

const environOf = (pid: number) =>
  Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  ) as Record<string, string>

describe("org keys stay in the pool", () => {
  const pool = poolOverProviderFakes()
  afterAll(() => pool.dispose())

  it("a claimed agent with an inbox, a number and a wallet gets only its own OpenRouter key at provision", async () => {
    const { provisioned, held } = await pool.runPromise(
      Effect.gen(function* () {
        const p = yield* Pool
        yield* p.replenish(1)
        yield* p.tick
        const claimed = yield* p.claim({ key: "org-keys-1", claimedBy: "owner" })
        const cloud = yield* MemoryCloud
        const instance = [...cloud.instances.values()].find((i) => i.instanceId === claimed.instance.id)!
        return { provisioned: instance.provisioned!, held: claimed.instance.id }
      }),
    )
    expect(held).toBeTruthy()
    const env = provisioned.env ?? {}
    expect(Object.keys(env)).toEqual(["OPENROUTER_API_KEY"])
    expect(env.OPENROUTER_API_KEY).toMatch(/^sk-or-v1-/)
    const sent = JSON.stringify(provisioned)
    for (const name of ORG_KEY_NAMES) expect(sent, name).not.toContain(name)
    for (const value of ORG_KEY_VALUES) expect(sent).not.toContain(value)
  })

  it("a real local agent process: no org key in /proc/<pid>/environ, and it is told where the pool's services are", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "org-keys-"))
    // The pool's own environment holds every org key (as in production); the agent must inherit none of them.
    const saved = { ...process.env }
    Object.assign(process.env, {
      TELNYX_API_KEY: telnyxKey,
      AGENTMAIL_API_KEY: agentMailKey,
      BANKR_PARTNER_KEY: bankrPartnerKey,
      BANKR_API_KEY: "bk_old_org_key_value",
      OPENROUTER_MANAGEMENT_KEY: managementKey,
    })
    const config = ConfigProvider.layer(ConfigProvider.fromUnknown({ ...process.env, HOST: "0.0.0.0", PORT: "18200" }))
    const rt = ManagedRuntime.make(
      localComputeLayer({ dataDir, stopGraceMs: 5_000, baseEnv: { DEVNET_URL: "http://127.0.0.1:9" } }).pipe(
        Layer.provide(config),
      ),
    )
    try {
      await rt.runPromise(
        Effect.flatMap(Effect.service(Compute), (c) =>
          c.create({ instanceId: "org-keys-proc", instanceToken: "tok-org", env: {} }),
        ),
      )
      const record = JSON.parse(readFileSync(join(dataDir, "instances", "org-keys-proc", "instance.json"), "utf8")) as {
        pid: number
      }
      expect(isAlive(record.pid)).toBe(true)
      const environ = environOf(record.pid)
      expect(environ).toMatchObject({
        POOL_SERVICES_URL: "http://127.0.0.1:18200",
        INSTANCE_ID: "org-keys-proc",
        INSTANCE_TOKEN: "tok-org",
      })
      for (const name of ORG_KEY_NAMES) expect(environ[name], name).toBeUndefined()
      const all = JSON.stringify(environ)
      for (const value of [...ORG_KEY_VALUES, "bk_old_org_key_value"]) expect(all).not.toContain(value)
    } finally {
      await rt.dispose()
      process.env = saved
      rmSync(dataDir, { recursive: true, force: true })
    }
  }, 60_000)
})
