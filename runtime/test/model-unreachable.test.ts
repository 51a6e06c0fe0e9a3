// An unreachable model server, end to end with a REAL OpenClaw gateway: MODEL_BASE_URL points at a loopback port
// nobody listens on. The person gets one line naming the server that is not answering: never silence, never a trace.
import { createServer } from "node:net"
import { defaultGreeting } from "../src/config/seedFiles.ts"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestDevnet } from "./support/devnet.ts"
import { converse, type RealAgent, startRealAgent } from "./support/realAgent.ts"
import { type ServicesFake, startServicesFake } from "./support/servicesFake.ts"

const TOKEN = "unreachable-instance-token"
const ID = "unreachable-agent-1"
let devnet: Awaited<ReturnType<typeof startTestDevnet>>
let services!: ServicesFake
let agent: RealAgent
let deadUrl: string

/** A loopback port that was free a moment ago (nothing listens on it). */
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer()
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port
      s.close(() => resolve(p))
    })
  })

beforeAll(async () => {
  devnet = await startTestDevnet()
  deadUrl = `http://127.0.0.1:${await freePort()}/v1`
  services = await startServicesFake({ instanceId: ID, token: TOKEN, held: { email: null, phone: null, wallet: null } })
  agent = await startRealAgent({
    id: ID,
    token: TOKEN,
    baseEnv: { DEVNET_URL: devnet.url, MODEL_BASE_URL: deadUrl, MODEL: "local-model", POOL_SERVICES_URL: services.url },
  })
}, 450_000)

afterAll(async () => {
  await agent?.close()
  await services?.close()
  await devnet?.close()
}, 60_000)

describe("a model server that is not answering", () => {
  it("gives the person one line naming the server", async () => {
    const invite = await agent.provision({ agentName: "Stranded", instructions: "Answer briefly." })
    // Any answer but the greeting the agent sends on the person's joining (it may arrive after the ping went out).
    const greeting = defaultGreeting("Stranded")
    const [reply] = await converse(devnet.url, invite, ["ping are you there"], (t) => t !== greeting, 200_000)
    expect(reply).toBe(`The model server at ${deadUrl} is not answering, so I cannot think right now.`)
  }, 260_000)
})
