import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Pool } from "../../pool/Pool.ts"
import { MemoryCloud } from "../../pool/testing.ts"
import { AgentResources } from "../../providers/AgentResources.ts"
import { ProviderFakes, testKeyName } from "../../providers/resources/testing.ts"
import { poolOverProviderFakes, serveApi } from "./server.ts"

// Starting and stopping test pools takes minutes on a loaded 2-core machine.
const HOOK_TIMEOUT = 600_000

// The admin instance page (/admin/instances/:id) over real HTTP, on the pool with live AgentResources over the
// loopback provider fakes (OpenRouter, AgentMail, Telnyx, wallet), so the resources it shows are the ones a claim
// really acquired. Its actions are the dashboard's forms with back=instance.

const KEY = "test-key-instance-0123456789"
const runtime = poolOverProviderFakes()
let base = ""
let session = ""
let close = () => Promise.resolve()

beforeAll(async () => {
  await runtime.runPromise(Effect.void)
  const served = await serveApi(runtime, KEY)
  base = served.base
  close = served.close
  const login = await fetch(`${base}/admin/login`, {
    method: "POST",
    headers: { origin: base },
    body: new URLSearchParams({ key: KEY }),
    redirect: "manual",
  })
  session = (login.headers.get("set-cookie") ?? "").split(";")[0]!
}, HOOK_TIMEOUT)
afterAll(async () => {
  await close()
  await runtime.dispose()
}, HOOK_TIMEOUT)

const auth = { authorization: `Bearer ${KEY}`, "content-type": "application/json" }
const page = async (id: string, headers: Record<string, string> = { cookie: session }) => {
  const res = await fetch(`${base}/admin/instances/${id}`, { headers })
  return { status: res.status, html: await res.text() }
}
const action = async (name: string, form: Record<string, string>) => {
  const res = await fetch(`${base}/admin/actions/${name}`, {
    method: "POST",
    headers: { cookie: session, origin: base },
    body: new URLSearchParams(form),
  })
  return { status: res.status, html: await res.text() }
}
/** The text of the <dd> after <dt>label</dt> (tags stripped). */
const fact = (html: string, label: string) =>
  (new RegExp(`<dt>${label}</dt><dd>(.*?)</dd>`).exec(html)?.[1] ?? "").replace(/<[^>]+>/g, "")
const claim = async (key: string, body: Record<string, unknown>) => {
  const res = await fetch(`${base}/api/pool/claim`, {
    method: "POST",
    headers: { ...auth, "idempotency-key": key, "x-client-label": "ops-test" },
    body: JSON.stringify(body),
  })
  expect(res.status).toBe(200)
  return ((await res.json()) as { instanceId: string }).instanceId
}

let id = ""

describe("admin instance page", { timeout: 300_000 }, () => {
  it("shows owner, template, resources (email, phone, wallet, spend against the cap), events, the log tail and actions", async () => {
    await runtime.runPromise(Effect.flatMap(Pool, (p) => p.replenish(3).pipe(Effect.andThen(p.tick))))
    id = await claim("instance-page-1", { agentName: "Ivy", templateSlug: "trip-planner" })
    const fakes = await runtime.runPromise(Effect.service(ProviderFakes))
    const hash = [...fakes.openrouter.state.keys.values()].find((k) => k.name === testKeyName(id))!.hash
    fakes.openrouter.state.setUsage(hash, { total: 7.5, thisPeriod: 5 })
    const held = await runtime.runPromise(Effect.flatMap(AgentResources, (r) => r.held(id)))
    const of = (provider: string) => held.find((r) => r.provider === provider)!.externalId

    const { status, html } = await page(id)
    expect(status).toBe(200)
    expect(html).toContain("<h1>Ivy <small")
    expect(fact(html, "owner")).toBe("api:ops-test")
    expect(fact(html, "template")).toBe("trip-planner")
    expect(fact(html, "status")).toBe("claimed")
    expect(fact(html, "email")).toBe(of("agentmail"))
    expect(fact(html, "email")).toContain("@")
    expect(fact(html, "phone")).toBe(of("telnyx"))
    expect(fact(html, "phone")).toMatch(/^\+\d+$/)
    expect(fact(html, "wallet")).toBe(of("wallet"))
    expect(fact(html, "wallet")).toMatch(/^0x[0-9a-fA-F]{40}$/)
    expect(fact(html, "OpenRouter")).toBe("$5.00 spent of cap $20.00 (resets monthly) — 25%")
    // The timeline, newest first: created, ready, claimed, provisioned.
    const kinds = [
      ...(/<table id="events">.*?<\/table>/s.exec(html)?.[0] ?? "").matchAll(/<tr><td>[^<]*<\/td><td>([^<]*)<\/td>/g),
    ].map((m) => m[1])
    expect(kinds.at(-1)).toBe("create")
    expect(kinds[0]).toBe("provisioned")
    expect(kinds).toContain("claim")
    // The runtime's log, from the compute provider.
    expect(html).toContain('<pre class="log" id="log">')
    expect(html).toContain(`[memory] runtime ${id} starting`)
    expect(html).toContain("[memory] provisioned as &quot;Ivy&quot;")
    // The dashboard's actions, coming back here.
    expect(html).toContain('action="/admin/actions/kill"')
    expect(html).toContain('action="/admin/actions/topup"')
    expect(html).toContain('<input type="hidden" name="back" value="instance"/>')
    // The dashboard links every row to its page.
    const dashboard = await (await fetch(`${base}/admin`, { headers: { cookie: session } })).text()
    expect(dashboard).toContain(`<a href="/admin/instances/${id}">Details</a>`)
  })

  it("needs the admin session: without it, the sign-in form and nothing of the instance (no log, no resources)", async () => {
    const tries: ReadonlyArray<Record<string, string>> = [
      {},
      { cookie: "convos_admin=forged" },
      { authorization: `Bearer ${KEY}` },
    ]
    for (const headers of tries) {
      const { status, html } = await page(id, headers)
      expect(status).toBe(401)
      expect(html).toContain('action="/admin/login"')
      expect(html).not.toContain("[memory]")
      expect(html).not.toContain("Ivy")
      expect(html).not.toContain("@")
    }
    expect((await page("../../etc")).status).toBe(404)
    expect((await page("a b")).status).toBe(400)
  })

  it("Top up on the page raises the cap and answers with the page showing it", async () => {
    const { status, html } = await action("topup", { id, amountUsd: "2.50", back: "instance" })
    expect(status).toBe(200)
    expect(html).toContain(`Topped up ${id.slice(0, 8)} by $2.50: its cap is now $22.50.`)
    expect(fact(html, "OpenRouter")).toContain("cap $22.50")
    expect(html).toMatch(/<td>topup<\/td>/)
  })

  it("a crashed instance shows its last error; Dismiss answers with its (now gone) page and timeline; a gone id is a 404", async () => {
    await runtime.runPromise(
      Effect.flatMap(MemoryCloud, (c) => Effect.sync(() => c.failProvisions(1, "gateway exploded"))),
    )
    const failed = await fetch(`${base}/api/pool/claim`, {
      method: "POST",
      headers: { ...auth, "idempotency-key": "instance-page-crash" },
      body: "{}",
    })
    expect(failed.status).toBe(502)
    const crashed = (await runtime.runPromise(Effect.flatMap(Pool, (p) => p.list({ status: ["crashed"] }))))[0]!
    const { html } = await page(crashed.id)
    expect(fact(html, "status")).toBe("crashed")
    expect(/<p id="last-error">(.*?)<\/p>/.exec(html)?.[1]).toContain("gateway exploded")
    expect(html).toContain('action="/admin/actions/dismiss"')

    const dismissed = await action("dismiss", { id: crashed.id, back: "instance" })
    expect(dismissed.status).toBe(200)
    expect(dismissed.html).toContain(`Dismissed ${crashed.id.slice(0, 8)}.`)
    expect(dismissed.html).toContain(`Instance ${crashed.id} is gone`)
    const gone = await page(crashed.id)
    expect(gone.status).toBe(404)
    expect(gone.html).toContain("<td>provision-failed</td>")
    expect(gone.html).toContain("<td>dismiss</td>")
    // A refused action says why on the page and changes nothing.
    const idle = (await runtime.runPromise(Effect.flatMap(Pool, (p) => p.list({ status: ["idle"] }))))[0]!
    const refused = await action("dismiss", { id: idle.id, back: "instance" })
    expect(refused.status).toBe(400)
    expect(refused.html).toContain("only crashed or dead instances can be dismissed")
    expect(fact(refused.html, "status")).toBe("idle")
  })

  it("Kill on the page destroys the instance and releases its resources", async () => {
    const { status, html } = await action("kill", { id, back: "instance" })
    expect(status).toBe(200)
    expect(html).toContain(`Killed ${id.slice(0, 8)}.`)
    expect(html).toContain(`Instance ${id} is gone`)
    expect(html).toContain("<td>kill</td>")
    expect(await runtime.runPromise(Effect.flatMap(AgentResources, (r) => r.held(id)))).toEqual([])
  })
})
