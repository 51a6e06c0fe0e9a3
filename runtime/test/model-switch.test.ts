// Per-agent model, end to end with a REAL OpenClaw gateway against a loopback OpenAI-compatible server that records
// the model id of every request: PATCH /pool/agent {model} rewrites openclaw.json and OpenClaw's config hot reload
// makes the next turn use the new model, with no gateway restart (the same gateway process answers). A model the
// server does not know and a key it refuses each give the person one line saying so: never silence, never a trace.
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestDevnet } from "./support/devnet.ts"
import { type FakeLlm, startFakeLlm } from "./support/fakeLlm.ts"
import { converse, type RealAgent, startRealAgent } from "./support/realAgent.ts"
import { type ServicesFake, startServicesFake } from "./support/servicesFake.ts"

const TOKEN = "switch-instance-token"
const ID = "switch-agent-1"
const FIRST = "local-small-1b"
const SECOND = "local-large-70b"
const UNKNOWN = "not-served-model"
const KEY = "the-right-key"
let devnet: Awaited<ReturnType<typeof startTestDevnet>>
let llm: FakeLlm
let services!: ServicesFake
let agent: RealAgent

/** The pid of the process listening on the agent's port (the gateway): a restart would change it. */
const listenerPid = (url: string): string => {
  const port = new URL(url).port
  const out = execFileSync("ss", ["-ltnpH", `sport = :${port}`], { encoding: "utf8" })
  return /pid=(\d+)/.exec(out)?.[1] ?? ""
}

beforeAll(async () => {
  devnet = await startTestDevnet()
  llm = await startFakeLlm({ generic: true })
  llm.knownModels = [FIRST, SECOND]
  llm.acceptKey = KEY
  services = await startServicesFake({ instanceId: ID, token: TOKEN, held: { email: null, phone: null, wallet: null } })
  agent = await startRealAgent({
    id: ID,
    token: TOKEN,
    baseEnv: {
      DEVNET_URL: devnet.url,
      MODEL_BASE_URL: llm.baseUrl,
      MODEL: FIRST,
      MODEL_API_KEY: KEY,
      POOL_SERVICES_URL: services.url,
    },
  })
}, 450_000)

afterAll(async () => {
  await agent?.close()
  await llm?.close()
  await services?.close()
  await devnet?.close()
}, 60_000)

const base = () => llm.baseUrl

describe("switching an agent's model (PATCH /pool/agent {model})", () => {
  it("the next turn uses the new model without a restart; an unknown model and a refused key each get one line", async () => {
    const invite = await agent.provision({ agentName: "Switcher", instructions: "Answer briefly." })
    const pid = listenerPid(agent.url)
    expect(pid).not.toBe("")
    const countBefore: Array<number> = []
    const patches: Array<{ status: number; body: unknown }> = []
    const steps: Array<() => Promise<void>> = [
      async () => {},
      async () => {
        patches.push(await agent.patch({ model: SECOND }))
      },
      async () => {
        patches.push(await agent.patch({ model: UNKNOWN }))
      },
      async () => {
        patches.push(await agent.patch({ model: SECOND }))
        llm.acceptKey = "a-key-the-agent-does-not-have"
      },
    ]
    const replies = await converse(
      devnet.url,
      invite,
      ["ping one", "ping two", "ping three", "ping four"],
      (t) => t.startsWith("FAKE-REPLY") || t.startsWith("The model server") || t.startsWith("⚠️"),
      200_000,
      async (i) => {
        await steps[i]!()
        countBefore[i] = llm.requests.length
      },
    )
    expect(patches.map((p) => p.status)).toEqual([200, 200, 200])
    expect(patches[0]!.body).toMatchObject({ ok: true, model: SECOND })
    // Turn 1 on the configured model, turn 2 on the switched one.
    expect(replies[0]).toMatch(/^FAKE-REPLY #\d+: ping one/)
    for (const r of llm.requests.slice(0, countBefore[1])) expect(r.model).toBe(FIRST)
    // (The fake echoes the first "ping" of the conversation's history: the reply itself is the proof of a turn.)
    expect(replies[1]).toMatch(/^FAKE-REPLY #\d+: /)
    const second = llm.requests.slice(countBefore[1], countBefore[2])
    expect(second.length).toBeGreaterThan(0)
    for (const r of second) expect(r.model).toBe(SECOND)
    // The model in openclaw.json is the agent's own now; the same gateway process answered all along.
    const config = JSON.parse(readFileSync(join(agent.stateDir, "openclaw.json"), "utf8"))
    expect(config.agents.defaults.model.primary).toBe(`convos-model/${SECOND}`)
    expect(listenerPid(agent.url)).toBe(pid)
    // An unknown model, then a refused key: one line each, naming the server (and the model).
    expect(replies[2]).toBe(
      `The model server at ${base()} does not know the model ${UNKNOWN}, so I cannot think right now.`,
    )
    expect(llm.refused.some((r) => r.model === UNKNOWN && r.status === 404)).toBe(true)
    expect(replies[3]).toBe(`The model server at ${base()} refused my key, so I cannot think right now.`)
    expect(llm.refused.some((r) => r.status === 401)).toBe(true)
  }, 900_000)
})
