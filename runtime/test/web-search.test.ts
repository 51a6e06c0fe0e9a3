// Web search through OpenRouter, end to end with a REAL OpenClaw gateway: the (fake) model asks for a web search, the
// gateway's search provider (OpenClaw's Perplexity plugin on its documented OpenRouter route) sends the search to
// OpenRouter's chat completions with the agent's own OpenRouter key, and the search answer comes back into the
// agent's reply. The fake OpenRouter checks every request against OpenRouter's published API reference. OpenClaw
// fetches a search provider only on its public hostname, so the agent is pointed at a made-up OpenRouter host that a
// loopback forward proxy (HTTP(S)_PROXY) delivers to the fake. The seed's other model id form (`<vendor>/<model>`)
// reaches OpenRouter unchanged (e2e.test.ts covers `openrouter/<vendor>/<model>`).
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestDevnet } from "./support/devnet.ts"
import { type FakeLlm, SEARCH_CITATION, searchAnswer, startFakeLlm } from "./support/fakeLlm.ts"
import { type HostProxy, startHostProxy } from "./support/hostProxy.ts"
import { converse, type RealAgent, startRealAgent } from "./support/realAgent.ts"
import { type ServicesFake, startServicesFake } from "./support/servicesFake.ts"

const TOKEN = "search-instance-token"
const ID = "search-agent-1"
const AGENT_KEY = "sk-or-v1-agent-own-key-search-1"
const OPENROUTER_HOST = "openrouter.test"
const QUERY = "what is the answer to everything"
let devnet: Awaited<ReturnType<typeof startTestDevnet>>
let llm: FakeLlm
let proxy: HostProxy
let services!: ServicesFake
let agent: RealAgent

beforeAll(async () => {
  devnet = await startTestDevnet()
  llm = await startFakeLlm()
  llm.toolCalls.push({ trigger: "look it up on the web", name: "web_search", args: { query: QUERY } })
  proxy = await startHostProxy({ [OPENROUTER_HOST]: Number(new URL(llm.baseUrl).port) })
  services = await startServicesFake({ instanceId: ID, token: TOKEN, held: { email: null, phone: null, wallet: null } })
  agent = await startRealAgent({
    id: ID,
    token: TOKEN,
    baseEnv: {
      DEVNET_URL: devnet.url,
      OPENROUTER_BASE_URL: `http://${OPENROUTER_HOST}/api/v1`,
      OPENCLAW_PRIMARY_MODEL: "anthropic/claude-sonnet-4-6",
      POOL_SERVICES_URL: services.url,
      HTTP_PROXY: proxy.url,
      HTTPS_PROXY: proxy.url,
      NO_PROXY: "127.0.0.1,localhost",
      NODE_USE_ENV_PROXY: "1",
    },
  })
}, 450_000)

afterAll(async () => {
  await agent?.close()
  await proxy?.close()
  await llm?.close()
  await services?.close()
  await devnet?.close()
}, 60_000)

describe("web search through OpenRouter on a real gateway", () => {
  it("the model's web_search call reaches OpenRouter with the agent's key in OpenRouter's shape, and the answer carries the result", async () => {
    const invite = await agent.provision({
      agentName: "Searcher",
      instructions: "Answer briefly.",
      env: { OPENROUTER_API_KEY: AGENT_KEY },
    })
    const before = llm.requests.length
    const [reply] = await converse(
      devnet.url,
      invite,
      ["ping look it up on the web please"],
      (t) => t.startsWith("TOOL-RESULT") || t.startsWith("FAKE-REPLY"),
    )
    const turn = llm.requests.slice(before)
    // the model was offered web_search, and the model id is the one OpenRouter accepts
    expect(turn[0]!.tools).toContain("web_search")
    expect(turn[0]!.model).toBe("anthropic/claude-sonnet-4-6")
    // the search went to OpenRouter (through its hostname) with the agent's own key, as a Sonar chat completion
    expect(llm.searches).toHaveLength(1)
    expect(llm.searches[0]!.authorization).toBe(`Bearer ${AGENT_KEY}`)
    expect(llm.searches[0]!.body).toMatchObject({
      model: "perplexity/sonar",
      messages: [{ role: "user", content: QUERY }],
    })
    expect(proxy.asked.some((h) => h.startsWith(OPENROUTER_HOST))).toBe(true)
    // nothing OpenRouter would refuse was sent, and every model call used the agent's key too
    expect(llm.violations).toEqual([])
    for (const r of turn) expect(r.authorization).toBe(`Bearer ${AGENT_KEY}`)
    // the search result came back to the model and into the agent's answer
    expect(turn.at(-1)!.toolResult).toContain(searchAnswer(QUERY))
    expect(reply).toMatch(/^TOOL-RESULT #\d+: /)
    expect(reply).toContain(searchAnswer(QUERY))
    expect(reply).toContain(SEARCH_CITATION)
  }, 240_000)
})
