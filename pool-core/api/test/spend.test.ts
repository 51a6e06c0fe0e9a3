import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Pool } from "../../pool/Pool.ts"
import { ProviderFakes, testKeyName } from "../../providers/resources/testing.ts"
import { poolOverProviderFakes, serveApi } from "./server.ts"

// Agent spend over real HTTP: the pool with live AgentResources over a loopback OpenRouter, so a claim creates a real
// (fake-side) key whose usage the test sets. Spend shows in the admin listing and page, never on the public /agents.

const KEY = "test-key-spend-0123456789"
const runtime = poolOverProviderFakes()
let base = ""
let close = () => Promise.resolve()

beforeAll(async () => {
  await runtime.runPromise(Effect.void)
  const served = await serveApi(runtime, KEY)
  base = served.base
  close = served.close
})
afterAll(async () => {
  await close()
  await runtime.dispose()
})

const auth = { authorization: `Bearer ${KEY}`, "content-type": "application/json" }
const fakes = () => runtime.runPromise(Effect.service(ProviderFakes))
interface Listed {
  id: string
  status: string
  agentName: string | null
  spend: unknown
}
const adminList = async () => {
  const res = await fetch(`${base}/api/pool/instances`, { headers: auth })
  expect(res.status).toBe(200)
  return ((await res.json()) as { instances: Array<Listed> }).instances
}
const adminPage = async () => {
  const login = await fetch(`${base}/admin/login`, {
    method: "POST",
    headers: { origin: base },
    body: new URLSearchParams({ key: KEY }),
    redirect: "manual",
  })
  const session = (login.headers.get("set-cookie") ?? "").split(";")[0]!
  return await (await fetch(`${base}/admin`, { headers: { cookie: session } })).text()
}
/** The dashboard row of the agent called `name`. */
const rowOf = (html: string, name: string) =>
  new RegExp(`<tr><td><code>[^<]*</code></td><td>claimed</td><td>[^<]*</td><td>${name}</td>.*?</tr>`).exec(html)?.[0] ??
  ""

let claimedId = ""
let hash = ""

describe("agent spend over HTTP", () => {
  it("a claimed agent's key usage shows in the admin listing and page, not on the public /agents", async () => {
    await runtime.runPromise(Effect.flatMap(Pool, (p) => p.replenish(2).pipe(Effect.andThen(p.tick))))
    const claim = await fetch(`${base}/api/pool/claim`, {
      method: "POST",
      headers: { ...auth, "idempotency-key": "spend-1" },
      body: JSON.stringify({ agentName: "Penny" }),
    })
    expect(claim.status).toBe(200)
    claimedId = (await claim.json()).instanceId
    const or = (await fakes()).openrouter
    hash = [...or.state.keys.values()].find((k) => k.name === testKeyName(claimedId))!.hash
    or.state.setUsage(hash, { total: 9.87654, thisPeriod: 3.14259 })

    const listed = await adminList()
    expect(listed.find((i) => i.id === claimedId)!.spend).toEqual({
      usedUsd: 3.14259,
      limitUsd: 20,
      limitReset: "monthly",
    })
    const idle = listed.find((i) => i.status === "idle")
    expect(idle).toBeDefined()
    expect(idle!.spend).toBeNull()

    expect(rowOf(await adminPage(), "Penny")).toContain("<td>$3.14 / $20.00</td>")

    for (const headers of [{}, auth]) {
      const res = await fetch(`${base}/api/pool/agents`, { headers })
      const text = await res.text()
      expect(text).toContain("Penny")
      expect(text).not.toContain("3.14259")
      expect(text).not.toContain("spend")
      expect(text).not.toContain("usedUsd")
    }
  })

  it("OpenRouter failing (500) for the key: listing and page still answer, with that spend unavailable", async () => {
    const or = (await fakes()).openrouter
    or.fail((r) =>
      r.method === "GET" && r.path.endsWith(`/${hash}`)
        ? { status: 500, json: { error: { message: "internal" } } }
        : or.state.handle(r),
    )
    try {
      expect((await adminList()).find((i) => i.id === claimedId)!.spend).toBe("unavailable")
      const row = rowOf(await adminPage(), "Penny")
      expect(row).toContain("<td>unavailable</td>")
      expect(row).not.toContain("$3.14")
    } finally {
      or.restore()
    }
    expect((await adminList()).find((i) => i.id === claimedId)!.spend).toMatchObject({ usedUsd: 3.14259 })
  })
})
