// Per-agent resources and the agent: the pool's live AgentResources (over loopback AgentMail, Telnyx, OpenRouter and
// Bankr stand-ins, real SQL) acquires for a claim, the env goes into POST /pool/provision exactly as the pool sends
// it, and the provisioned agent holds its own OpenRouter key and no provider org key (email, SMS and wallet go
// through the pool's /api/agent-services).
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, Layer, ManagedRuntime } from "effect"
import { DevnetMessaging } from "@convos-agents/messaging"
import { TestDatabase } from "@convos-agents/pool-core/testing/db"
import { AgentResources, AgentResourcesNone } from "@convos-agents/pool-core"
import { agentResourcesOverFakes, providerFakesLayer } from "@convos-agents/pool-core/testing/providers"
import { readSecretsEnv } from "../src/config/settings.ts"
import { startTestDevnet } from "./support/devnet.ts"
import { startInstance } from "./support/instance.ts"

let devnet: Awaited<ReturnType<typeof startTestDevnet>>
const pool = ManagedRuntime.make(
  agentResourcesOverFakes.pipe(Layer.provideMerge(providerFakesLayer), Layer.provideMerge(TestDatabase)),
)

beforeAll(async () => {
  devnet = await startTestDevnet()
})
afterAll(async () => {
  await pool.dispose()
  await devnet?.close()
})

const provisioned = async (env: Readonly<Record<string, string>>) => {
  const i = await startInstance({
    messaging: DevnetMessaging.layerFromUrl(devnet.url),
    dispatch: async () => ({ delivered: 0, silent: true }),
  })
  await i.convos.start()
  const res = await i.call("/pool/provision", {
    method: "POST",
    body: { agentName: "Skilled", instructions: "Help with errands.", env },
  })
  expect(res.status).toBe(200)
  return i
}

describe("skills of a pool agent", () => {
  it("granted an inbox, a number and a wallet, the provisioned agent holds no provider key: only its own OpenRouter key", async () => {
    const acquired = await pool.runPromise(Effect.flatMap(AgentResources, (r) => r.acquire("skills-1")))
    const i = await provisioned(acquired.env)
    try {
      // what the agent keeps and runs with (provision-time secrets in <state>/.env and the process env)
      const secrets = readSecretsEnv(i.stateDir)
      expect(Object.keys(secrets)).toEqual(["OPENROUTER_API_KEY"])
      for (const name of [
        "TELNYX_API_KEY",
        "AGENTMAIL_API_KEY",
        "BANKR_API_KEY",
        "BANKR_PARTNER_KEY",
        "PRIVATE_WALLET_KEY",
      ]) {
        expect(i.env[name], name).toBeUndefined()
        expect(secrets[name], name).toBeUndefined()
      }
      // the inbox, number and wallet are the pool's: the agent reaches them through /api/agent-services
      expect(acquired.resources.map((r) => r.provider)).toEqual(["telnyx", "openrouter", "agentmail", "wallet"])
      // no shell-driven provider skill without a key
      expect(existsSync(join(i.stateDir, "workspace", "skills", "agentmail"))).toBe(false)
      expect(existsSync(join(i.stateDir, "workspace", "skills", "telnyx"))).toBe(false)
      expect(existsSync(join(i.stateDir, "workspace", "skills", "bankr"))).toBe(false)
    } finally {
      await i.close()
      await pool.runPromise(Effect.flatMap(AgentResources, (r) => r.release("skills-1")))
    }
  }, 60_000)

  it("with no provider configured the agent has no skills", async () => {
    const none = await Effect.runPromise(
      Effect.flatMap(AgentResources, (r) => r.acquire("skills-2")).pipe(Effect.provide(AgentResourcesNone)),
    )
    const i = await provisioned(none.env)
    try {
      expect(existsSync(join(i.stateDir, "workspace", "skills"))).toBe(false)
      const agents = readFileSync(join(i.stateDir, "workspace", "AGENTS.md"), "utf8")
      expect(agents).toContain("`read` / `write` / `edit`")
      expect(agents).not.toMatch(/send_email|send_sms|wallet_address/)
    } finally {
      await i.close()
    }
  }, 60_000)
})
