// The agent's typed service tools (send_email, list_emails, send_sms, wallet_address) against a loopback server
// that implements the pool's agent service API (docs/api.md "Agent services") and checks every request: the plugin's runtime asks
// which services the agent holds, offers exactly those tools, and each tool sends the contract's request with the
// instance token and id. No provider key and no shell skill anywhere in the agent.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { NO_SERVICES } from "../src/plugin/agentServices.ts"
import { startInstance, type TestInstance, TOKEN } from "./support/instance.ts"
import { type ServicesFake, startServicesFake } from "./support/servicesFake.ts"

const INSTANCE_ID = "tools-agent-1"
const open: Array<{ close: () => Promise<void> }> = []
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close()
})

const setup = async (held: ServicesFake["held"], env: Record<string, string> = {}) => {
  const fake = await startServicesFake({ instanceId: INSTANCE_ID, token: TOKEN, held })
  open.push(fake)
  const i: TestInstance = await startInstance({
    dispatch: async () => ({ delivered: 0, silent: true }),
    env: { POOL_SERVICES_URL: fake.url, INSTANCE_ID, ...env },
  })
  open.push(i)
  return { fake, i }
}

const toolNames = (i: TestInstance) =>
  ["send_email", "list_emails", "send_sms", "wallet_address"].filter((n) => i.convos.serviceTool(n) !== null)

describe("typed agent service tools", () => {
  it("offers only the tools of the services the agent holds (asked with its token), and lists them in AGENTS.md", async () => {
    const { fake, i } = await setup({
      email: { address: "agent-1@agentmail.to" },
      phone: null,
      wallet: { address: "0x00000000000000000000000000000000000000a1" },
    })
    expect(toolNames(i)).toEqual([]) // nothing before the pool answered
    await i.convos.refreshServices()
    expect(toolNames(i)).toEqual(["send_email", "list_emails", "wallet_address"])
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /api/agent-services/me"])
    const agents = readFileSync(join(i.stateDir, "workspace", "AGENTS.md"), "utf8")
    expect(agents).toContain("`send_email` / `list_emails`")
    expect(agents).toContain("`wallet_address`")
    expect(agents).not.toContain("send_sms")
    expect(agents).not.toMatch(/curl|api\.agentmail\.to|api\.telnyx\.com|api\.bankr\.bot|_API_KEY/)

    // A release takes the email away: the next answer drops its tools.
    fake.held = { ...fake.held, email: null }
    await i.convos.refreshServices()
    expect(toolNames(i)).toEqual(["wallet_address"])
    expect(fake.violations).toEqual([])
  })

  it("each tool sends exactly the agent service API's request and reports the answer", async () => {
    const { fake, i } = await setup({
      email: { address: "agent-1@agentmail.to" },
      phone: { number: "+15550001111" },
      wallet: { address: "0xabc0000000000000000000000000000000000001" },
    })
    await i.convos.refreshServices()
    const run = (name: string, params: Record<string, unknown>) =>
      i.convos.serviceTool(name)!.execute(`call-${name}`, params)

    const email = await run("send_email", { to: "ada@example.com", subject: "Dinner", text: "7 pm works." })
    expect(email.details).toMatchObject({ ok: true, messageId: "msg-1" })
    expect(email.content[0]!.text).toContain("ada@example.com")
    const list = await run("list_emails", { limit: 5 })
    expect(list.content[0]!.text).toContain("from ada@example.com: Hello")
    const sms = await run("send_sms", { to: "+15557654321", text: "On my way" })
    expect(sms.details).toMatchObject({ ok: true, id: "sms-2" })
    const wallet = await run("wallet_address", {})
    expect(wallet.content[0]!.text).toContain("0xabc0000000000000000000000000000000000001")

    const calls = fake.requests.slice(1)
    expect(calls.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /api/agent-services/email/send",
      "GET /api/agent-services/email/messages",
      "POST /api/agent-services/sms/send",
      "GET /api/agent-services/wallet",
    ])
    expect(calls[0]!.body).toEqual({ to: "ada@example.com", subject: "Dinner", text: "7 pm works." })
    expect(calls[1]!.query).toEqual({ limit: "5" })
    expect(calls[2]!.body).toEqual({ to: "+15557654321", text: "On my way" })
    for (const r of fake.requests) {
      expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`)
      expect(r.headers["x-instance-id"]).toBe(INSTANCE_ID)
    }
    expect(fake.violations).toEqual([])
  })

  it("a refusal by the pool reaches the model as the pool's own line (what happened, what to do)", async () => {
    const { fake, i } = await setup({ email: null, phone: { number: "+15550001111" }, wallet: null })
    await i.convos.refreshServices()
    fake.failNext.set("/api/agent-services/sms/send", {
      status: 429,
      error: "Daily SMS limit (20) reached; it resets at 2026-12-04T00:00:00.000Z.",
    })
    const r = await i.convos.serviceTool("send_sms")!.execute("c1", { to: "+15557654321", text: "hi" })
    expect(r.details).toMatchObject({ ok: false, status: 429 })
    expect(r.content[0]!.text).toBe(
      "send_sms failed (HTTP 429): Daily SMS limit (20) reached; it resets at 2026-12-04T00:00:00.000Z.",
    )
    // the model's bad input is refused by the pool (400), also as a result, not a crash
    const bad = await i.convos.serviceTool("send_sms")!.execute("c2", { to: "5551234", text: "hi" })
    expect(bad.details).toMatchObject({ ok: false, status: 400 })
  })

  it("without the pool's service API (no POOL_SERVICES_URL) the agent has no service tools and asks nobody", async () => {
    const fake = await startServicesFake({
      instanceId: INSTANCE_ID,
      token: TOKEN,
      held: { email: { address: "x@agentmail.to" }, phone: null, wallet: null },
    })
    open.push(fake)
    const i = await startInstance({ dispatch: async () => ({ delivered: 0, silent: true }), env: { INSTANCE_ID } })
    open.push(i)
    expect(await i.convos.refreshServices()).toEqual(NO_SERVICES)
    expect(toolNames(i)).toEqual([])
    expect(fake.requests).toEqual([])
  })

  it("removes the retired shell skills from an older state dir", async () => {
    const { i } = await setup({ email: null, phone: null, wallet: null })
    for (const name of ["agentmail", "telnyx", "bankr"]) {
      mkdirSync(join(i.stateDir, "workspace", "skills", name), { recursive: true })
      writeFileSync(join(i.stateDir, "workspace", "skills", name, "SKILL.md"), "curl with $KEY")
    }
    const { applyRuntime } = await import("../src/config/apply.ts")
    const { settingsFromEnv } = await import("../src/config/settings.ts")
    applyRuntime(settingsFromEnv(i.env), i.env)
    expect(existsSync(join(i.stateDir, "workspace", "skills"))).toBe(false)
  })
})
