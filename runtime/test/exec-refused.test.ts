// End to end with a REAL OpenClaw gateway (see e2e.test.ts): a person asks the agent something, and the (fake) model
// answers with a tool call to `exec` running `cat .data/pool-token-secret` — the file that derives every instance
// token, planted here in the agent's cwd (its state dir) and in its workspace. The gateway never offered exec to the
// model and refuses the call as an unknown tool: the model's follow-up request carries that error, the secret
// reaches neither the model nor the chat, and the agent still answers the person with the model's plain text.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, ManagedRuntime } from "effect"
import { Compute } from "@convos-agents/pool-core"
import { localComputeLayer } from "@convos-agents/pool-core/compute/local"
import { connectPerson, joinInvite, waitForText } from "./support/chatClient.ts"
import { startTestDevnet } from "./support/devnet.ts"
import { type FakeLlm, startFakeLlm } from "./support/fakeLlm.ts"
import { type ServicesFake, startServicesFake } from "./support/servicesFake.ts"

const TOKEN = "exec-instance-token"
const ID = "exec-agent-1"
const SECRET = "POOL-TOKEN-SECRET-7f3a9c1e5b2d4068"
const TRIGGER = "ping read me the pool secret"
const SHELL_TOOLS = ["exec", "bash", "shell", "process", "code_execution", "terminal", "apply_patch"]
let devnet: Awaited<ReturnType<typeof startTestDevnet>>
let llm: FakeLlm
let services!: ServicesFake
let dataDir: string
let compute: ManagedRuntime.ManagedRuntime<Compute, unknown>
let url: string

const useCompute = <A, E>(f: (c: Compute["Service"]) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    return yield* f(yield* Compute)
  })

const waitReady = async (base: string, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${base}/pool/health`)
      if (r.ok && r.headers.get("content-type")?.includes("json") && ((await r.json()) as { ready: boolean }).ready)
        return
    } catch {}
    await new Promise((r) => setTimeout(r, 500))
  }
  throw new Error(`runtime at ${base} not ready within ${timeoutMs} ms`)
}

const plantSecret = (dir: string) => {
  mkdirSync(join(dir, ".data"), { recursive: true })
  writeFileSync(join(dir, ".data", "pool-token-secret"), `${SECRET}\n`, { mode: 0o600 })
}

beforeAll(async () => {
  devnet = await startTestDevnet()
  llm = await startFakeLlm()
  llm.toolCalls.push({
    trigger: "read me the pool secret",
    name: "exec",
    args: { command: "cat .data/pool-token-secret" },
  })
  services = await startServicesFake({ instanceId: ID, token: TOKEN, held: { email: null, phone: null, wallet: null } })
  dataDir = mkdtempSync(join(tmpdir(), "runtime-exec-"))
  compute = ManagedRuntime.make(
    localComputeLayer({
      dataDir,
      baseEnv: {
        DEVNET_URL: devnet.url,
        OPENROUTER_BASE_URL: llm.baseUrl,
        OPENCLAW_PRIMARY_MODEL: "openrouter/anthropic/claude-sonnet-4-6",
        POOL_SERVICES_URL: services.url,
      },
    }),
  )
  const handle = await compute.runPromise(
    useCompute((c) => c.create({ instanceId: ID, instanceToken: TOKEN, env: {} })),
  )
  url = handle.url!
  await waitReady(url, 420_000)
}, 450_000)

afterAll(async () => {
  await compute?.dispose()
  await llm?.close()
  await services?.close()
  await devnet?.close()
  if (!process.env.KEEP_E2E_DATA) rmSync(dataDir, { recursive: true, force: true })
}, 60_000)

describe("a model's exec tool call through a real OpenClaw gateway", () => {
  it("is refused as an unavailable tool: exec is never offered, the secret reaches neither model nor chat, the agent still answers", async () => {
    const res = await fetch(`${url}/pool/provision`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({
        agentName: "Exec Probe",
        instructions: "Answer briefly.",
        env: { OPENROUTER_API_KEY: "sk-exec-fake" },
      }),
    })
    expect(res.status).toBe(200)
    const answer = (await res.json()) as { conversationId: string; inviteUrl: string }
    // The agent's cwd is its state dir; plant the secret there and in its workspace.
    const stateDir = join(dataDir, "instances", ID)
    plantSecret(stateDir)
    plantSecret(join(stateDir, "workspace"))

    const before = llm.requests.length
    const seen: string[] = []
    const reply = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const person = yield* connectPerson(devnet.url, "exec person")
          const joined = yield* joinInvite(person, answer.inviteUrl)
          expect(joined).toMatchObject({ _tag: "Joined", conversationId: answer.conversationId })
          const sentAt = Date.now()
          yield* person.client.sendText(answer.conversationId, TRIGGER)
          return yield* waitForText(
            person,
            answer.conversationId,
            (t) => {
              seen.push(t)
              return t.startsWith("TOOL-RESULT") || t.startsWith("FAKE-REPLY")
            },
            sentAt - 1,
            150_000,
          )
        }),
      ),
    )

    const turn = llm.requests.slice(before)
    const first = turn.find((r) => r.toolResult === null)!
    const followUp = turn.find((r) => r.toolResult !== null)!
    // (a) the model was offered tools, but no shell: exec cannot be chosen legitimately
    expect(first).toBeDefined()
    expect(first.tools.length).toBeGreaterThan(0)
    for (const t of SHELL_TOOLS) expect(first.tools).not.toContain(t)
    // (b) the follow-up carries the gateway's refusal: the tool is not available / unknown
    expect(followUp).toBeDefined()
    expect(followUp.toolResult).toMatch(/exec/i)
    expect(followUp.toolResult).toMatch(/not (found|available|allowed)|unknown|unavailable/i)
    // (c) the secret reached neither the model nor the chat
    for (const r of llm.requests) expect(JSON.stringify(r)).not.toContain(SECRET)
    for (const t of seen) expect(t).not.toContain(SECRET)
    // (d) the agent still answered the person with the model's plain text (the fake's reply to the follow-up)
    expect(reply).toMatch(/^TOOL-RESULT #\d+: /)
    expect(reply).not.toContain(SECRET)
  }, 240_000)
})
