// Bring your own model, end to end with a REAL OpenClaw gateway: no OpenRouter key anywhere, the agent configured
// with MODEL_BASE_URL (a loopback fake OpenAI-compatible server), a custom model id (MODEL) and no MODEL_API_KEY.
// The agent thinks with that server: the request carries the custom id, and the answer reaches the person.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestDevnet } from "./support/devnet.ts"
import { type FakeLlm, startFakeLlm } from "./support/fakeLlm.ts"
import { converse, type RealAgent, startRealAgent } from "./support/realAgent.ts"
import { type ServicesFake, startServicesFake } from "./support/servicesFake.ts"

const TOKEN = "endpoint-instance-token"
const ID = "endpoint-agent-1"
const MODEL = "local-llama-3.2-instruct"
let devnet: Awaited<ReturnType<typeof startTestDevnet>>
let llm: FakeLlm
let services!: ServicesFake
let agent: RealAgent

beforeAll(async () => {
  devnet = await startTestDevnet()
  llm = await startFakeLlm({ generic: true })
  services = await startServicesFake({ instanceId: ID, token: TOKEN, held: { email: null, phone: null, wallet: null } })
  agent = await startRealAgent({
    id: ID,
    token: TOKEN,
    baseEnv: { DEVNET_URL: devnet.url, MODEL_BASE_URL: llm.baseUrl, MODEL, POOL_SERVICES_URL: services.url },
  })
}, 450_000)

afterAll(async () => {
  await agent?.close()
  await llm?.close()
  await services?.close()
  await devnet?.close()
}, 60_000)

describe("an agent on a model server of your own (MODEL_BASE_URL, MODEL, no key)", () => {
  it("answers the person with that server's text; the request names the custom model id", async () => {
    const invite = await agent.provision({ agentName: "Local", instructions: "Answer briefly." })
    const [reply] = await converse(
      devnet.url,
      invite,
      ["ping hello local model"],
      (t) => t.startsWith("FAKE-REPLY") || t.startsWith("No model"),
    )
    expect(reply).toMatch(/^FAKE-REPLY #\d+: ping hello local model/)
    expect(llm.requests.length).toBeGreaterThan(0)
    for (const r of llm.requests) expect(r.model).toBe(MODEL)
  }, 240_000)
})
