// Per-agent resources reach the agent's skills: the pool's live AgentResources (over loopback AgentMail, Telnyx,
// OpenRouter stand-ins, real SQL) acquires for a claim, the env goes into POST /pool/provision exactly as the pool
// sends it, and the provisioned agent's workspace has the email and SMS skills on, with what they need to work.
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, Layer, ManagedRuntime } from "effect"
import { DevnetMessaging } from "@convos-agents/pool-core/messaging"
import { TestDatabase } from "@convos-agents/pool-core/db/testing.ts"
import { AgentResources, AgentResourcesNone } from "@convos-agents/pool-core/providers/AgentResources.ts"
import { agentResourcesOverFakes, ProviderFakes, providerFakesLayer } from "@convos-agents/pool-core/providers/resources/testing.ts"
import { readSecretsEnv } from "../src/config/settings.ts"
import { startTestDevnet } from "./support/devnet.ts"
import { startInstance } from "./support/instance.ts"

let devnet: Awaited<ReturnType<typeof startTestDevnet>>
const pool = ManagedRuntime.make(agentResourcesOverFakes.pipe(Layer.provideMerge(providerFakesLayer), Layer.provideMerge(TestDatabase)))

beforeAll(async () => {
  devnet = await startTestDevnet()
})
afterAll(async () => {
  await pool.dispose()
  await devnet?.close()
})

const provisioned = async (env: Readonly<Record<string, string>>) => {
  const i = await startInstance({ messaging: DevnetMessaging.layerFromUrl(devnet.url), dispatch: async () => ({ delivered: 0, silent: true }) })
  await i.convos.start()
  const res = await i.call("/pool/provision", { method: "POST", body: { agentName: "Skilled", instructions: "Help with errands.", env } })
  expect(res.status).toBe(200)
  return i
}

describe("skills of a pool agent", () => {
  it("granted an inbox and a number, the provisioned agent has the email and SMS skills with their key and its own resource", async () => {
    const acquired = await pool.runPromise(Effect.flatMap(AgentResources, (r) => r.acquire("skills-1")))
    const fakes = await pool.runPromise(Effect.gen(function* () { return yield* ProviderFakes }))
    const i = await provisioned(acquired.env)
    try {
      const workspace = join(i.stateDir, "workspace")
      expect(existsSync(join(workspace, "skills", "agentmail", "SKILL.md"))).toBe(true)
      expect(existsSync(join(workspace, "skills", "telnyx", "SKILL.md"))).toBe(true)
      expect(existsSync(join(workspace, "skills", "bankr", "SKILL.md"))).toBe(true)
      const agents = readFileSync(join(workspace, "AGENTS.md"), "utf8")
      expect(agents).toContain("`agentmail` skill")
      expect(agents).toContain("`telnyx` skill")
      // what the skills read at run time (provision-time secrets, kept in <state>/.env and the process env)
      const secrets = readSecretsEnv(i.stateDir)
      expect(secrets.AGENTMAIL_INBOX_ID).toBe("convos-test-skills-1@agentmail.to")
      expect(fakes.agentmail.state.keys.get(secrets.AGENTMAIL_API_KEY!)).toBe("convos-test-skills-1@agentmail.to") // scoped to its inbox
      expect(secrets.TELNYX_PHONE_NUMBER).toMatch(/^\+1555/)
      expect(secrets.TELNYX_API_KEY).toBeTruthy()
      expect(secrets.TELNYX_MESSAGING_PROFILE_ID).toBeTruthy()
      expect(i.env.AGENTMAIL_API_KEY).toBe(secrets.AGENTMAIL_API_KEY)
      // names only in the log
      expect(i.logs.join("\n")).toContain("AGENTMAIL_API_KEY")
      expect(i.logs.join("\n")).not.toContain(secrets.AGENTMAIL_API_KEY!)
    } finally {
      await i.close()
      await pool.runPromise(Effect.flatMap(AgentResources, (r) => r.release("skills-1")))
    }
  }, 60_000)

  it("with no provider configured the agent has no skills", async () => {
    const none = await Effect.runPromise(Effect.flatMap(AgentResources, (r) => r.acquire("skills-2")).pipe(Effect.provide(AgentResourcesNone)))
    const i = await provisioned(none.env)
    try {
      expect(existsSync(join(i.stateDir, "workspace", "skills"))).toBe(false)
      expect(readFileSync(join(i.stateDir, "workspace", "AGENTS.md"), "utf8")).toContain("No external services are connected")
    } finally {
      await i.close()
    }
  }, 60_000)
})
