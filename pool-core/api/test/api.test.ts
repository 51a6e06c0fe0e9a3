import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { MemoryCloud } from "../../pool/testing.ts"
import { type ApiServer, KEY, sseEvents, startApi } from "./server.ts"

let api: ApiServer
let base = ""
let auth: Record<string, string> = {}
beforeAll(async () => {
  api = await startApi()
  base = api.base
  auth = api.auth
})
afterAll(async () => {
  await api?.close()
})

const post = (path: string, body: unknown, headers?: Record<string, string>) => api.post(path, body, headers)
const warm = (n: number) => api.warm(n)
const runtime = { runPromise: <A, E>(e: Effect.Effect<A, E, any>) => api.runtime.runPromise(e) }
/** The dashboard row (<tr>…</tr>) whose status cell is `status` and name cell is `name`. */
const rowOf = (html: string, status: string, name: string) =>
  new RegExp(`<tr><td><code>[^<]*</code></td><td>${status}</td><td>[^<]*</td><td>${name}</td>.*?</tr>`).exec(
    html,
  )?.[0] ?? null

describe("pool API over HTTP", () => {
  it("public reads: counts, info, templates, one template, 404 for an unknown one", async () => {
    expect((await (await fetch(`${base}/healthz`)).json()).ok).toBe(true)
    const counts = await (await fetch(`${base}/api/pool/counts`)).json()
    expect(counts).toHaveProperty("idle")
    const info = await (await fetch(`${base}/api/pool/info`)).json()
    expect(info).toMatchObject({ version: "0.1.0", network: "devnet", targets: { minIdle: 0 } })
    const { templates } = await (await fetch(`${base}/api/pool/templates`)).json()
    expect(templates.length).toBeGreaterThanOrEqual(12)
    expect((await (await fetch(`${base}/api/pool/templates/trip-planner`)).json()).name).toBe("Trip Planner")
    const missing = await fetch(`${base}/api/pool/templates/nope`)
    expect(missing.status).toBe(404)
    expect((await missing.json()).error).toContain("nope")
    expect((await fetch(`${base}/api/pool/nothing-here`)).status).toBe(404)
    expect((await (await fetch(`${base}/api/openapi.json`)).json()).openapi).toBe("3.1.0")
  })

  it("mutations need the API key: missing 401, wrong 401, right 200", async () => {
    const missing = await post("/api/pool/reconcile", {}, { "content-type": "application/json" })
    expect(missing.status).toBe(401)
    expect((await missing.json()).error).toContain("Missing API key")
    const wrong = await post(
      "/api/pool/reconcile",
      {},
      { authorization: "Bearer nope", "content-type": "application/json" },
    )
    expect(wrong.status).toBe(401)
    const right = await post("/api/pool/reconcile", {})
    expect(right.status).toBe(200)
    expect((await right.json()).ran).toBe(true)
  })

  it("claim: success, idempotent replay, 409 when nothing is idle; public agents list hides owners and invites", async () => {
    await warm(1)
    const headers = { ...auth, "idempotency-key": "k-1" }
    const first = await post("/api/pool/claim", { agentName: "Ada", instructions: "Be kind." }, headers)
    expect(first.status).toBe(200)
    const claimed = await first.json()
    expect(claimed).toMatchObject({ agentName: "Ada", replayed: false })
    expect(claimed.inviteUrl).toMatch(/^https:\/\//)
    const again = await (await post("/api/pool/claim", { agentName: "Ada" }, headers)).json()
    expect(again).toMatchObject({ instanceId: claimed.instanceId, replayed: true })
    const none = await post("/api/pool/claim", {}, { ...auth, "idempotency-key": "k-2" })
    expect(none.status).toBe(409)
    expect((await none.json()).error).toContain("No agent is available")
    const { claimed: agents } = await (await fetch(`${base}/api/pool/agents`)).json()
    expect(agents.some((a: { name: string }) => a.name === "Ada")).toBe(true)
    const text = JSON.stringify(agents)
    expect(text).not.toContain(claimed.inviteUrl)
    expect(text).not.toContain("api:")
    expect(text).not.toContain("tokenHash")
  })

  it("validates bodies: wrong types 400 with the field, bad JSON 400, non-JSON 415, huge 413, bad ids 400, unknown 404", async () => {
    const wrongType = await post("/api/pool/replenish", { count: "three" })
    expect(wrongType.status).toBe(400)
    expect((await wrongType.json()).field).toBe("count")
    const tooMany = await post("/api/pool/replenish", { count: 21 })
    expect(tooMany.status).toBe(400)
    expect((await post("/api/pool/claim", "{not json")).status).toBe(400)
    expect((await post("/api/pool/claim", "agentName=x", { ...auth, "content-type": "text/plain" })).status).toBe(415)
    expect((await post("/api/pool/claim", { instructions: "x".repeat(100_000) })).status).toBe(413)
    const longName = await post(
      "/api/pool/claim",
      { agentName: "n".repeat(65) },
      { ...auth, "idempotency-key": "k-long" },
    )
    expect(longName.status).toBe(400)
    expect((await longName.json()).field).toBe("agentName")
    const unicode = await post(
      "/api/pool/claim",
      { agentName: "🤖\u202e", templateSlug: "no-such" },
      { ...auth, "idempotency-key": "k-u" },
    )
    expect(unicode.status).toBe(400)
    const badId = await fetch(`${base}/api/pool/instances/${encodeURIComponent("../../etc")}`, {
      method: "DELETE",
      headers: auth,
    })
    expect(badId.status).toBe(400)
    expect(await badId.json()).toMatchObject({ field: "id" })
    const unknown = await fetch(`${base}/api/pool/instances/00000000-0000-0000-0000-000000000000`, {
      method: "DELETE",
      headers: auth,
    })
    expect(unknown.status).toBe(404)
    expect((await unknown.json()).error).toEqual(expect.any(String))
  })

  it("replenish, drain, kill and dismiss", async () => {
    const made = await (await post("/api/pool/replenish", { count: 2 })).json()
    expect(made.created).toHaveLength(2)
    await post("/api/pool/reconcile", {})
    const drained = await (await post("/api/pool/drain", { count: 1 })).json()
    expect(drained.drained).toHaveLength(1)
    const { instances } = await (await fetch(`${base}/api/pool/instances`, { headers: auth })).json()
    const idle = instances.find((i: { status: string }) => i.status === "idle")
    expect((await fetch(`${base}/api/pool/crashed/${idle.id}`, { method: "DELETE", headers: auth })).status).toBe(409)
    const killed = await fetch(`${base}/api/pool/instances/${idle.id}`, { method: "DELETE", headers: auth })
    expect(killed.status).toBe(200)
    // a failed provision leaves a crashed instance that dismiss removes
    await warm(1)
    await runtime.runPromise(Effect.flatMap(MemoryCloud, (c) => Effect.sync(() => c.failProvisions(1, "boom"))))
    const failed = await post("/api/pool/claim", {}, { ...auth, "idempotency-key": "k-fail" })
    expect(failed.status).toBe(502)
    const all = (await (await fetch(`${base}/api/pool/instances`, { headers: auth })).json()).instances
    const crashed = all.find((i: { status: string }) => i.status === "crashed")
    expect((await fetch(`${base}/api/pool/crashed/${crashed.id}`, { method: "DELETE", headers: auth })).status).toBe(
      200,
    )
  })

  it("drain: 400 naming count for a bad count; mutations and the admin listing need the key (401)", async () => {
    for (const body of [{ count: 0 }, { count: 21 }, { count: "two" }, { count: 1.5 }, { count: null }]) {
      const res = await post("/api/pool/drain", body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect((await res.json()).field).toBe("count")
    }
    const noKey = await fetch(`${base}/api/pool/instances`)
    expect(noKey.status).toBe(401)
    expect((await noKey.json()).error).toContain("Missing API key")
    const wrongKey = await fetch(`${base}/api/pool/instances`, {
      headers: { authorization: "Bearer wrong-key-0123456789" },
    })
    expect(wrongKey.status).toBe(401)
    expect((await wrongKey.json()).error).toBe("Wrong API key.")
    for (const path of ["/api/pool/instances/x", "/api/pool/crashed/x"])
      expect((await fetch(`${base}${path}`, { method: "DELETE" })).status).toBe(401)
  })

  it("dismissing an unknown id is a 404 with a JSON error", async () => {
    const res = await fetch(`${base}/api/pool/crashed/00000000-0000-0000-0000-00000000dead`, {
      method: "DELETE",
      headers: auth,
    })
    expect(res.status).toBe(404)
    expect((await res.json()).error).toEqual(expect.any(String))
  })

  it("claim streams its progress as Server-Sent Events, then complete with the claimed agent", async () => {
    await warm(1)
    const res = await post(
      "/api/pool/claim",
      { agentName: "Streamy" },
      { ...auth, accept: "text/event-stream", "idempotency-key": "k-sse" },
    )
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toContain("text/event-stream")
    const events = sseEvents(await res.text())
    const steps = events.filter((e) => e.event === "step")
    expect(steps.length).toBeGreaterThan(0)
    for (const s of steps)
      expect(s.data).toMatchObject({
        step: expect.any(String),
        status: expect.stringMatching(/^(active|ok|fail|skip)$/),
        message: expect.any(String),
      })
    expect(events.at(-1)!.event).toBe("complete")
    expect(events.filter((e) => e.event === "complete")).toHaveLength(1)
    expect(events.at(-1)!.data).toMatchObject({
      ok: true,
      result: { agentName: "Streamy", instanceId: expect.any(String), replayed: false },
    })
  })

  it("claim over SSE with nothing idle completes with ok: false and the reason", async () => {
    const res = await post(
      "/api/pool/claim",
      {},
      { ...auth, accept: "text/event-stream", "idempotency-key": "k-sse-none" },
    )
    const events = sseEvents(await res.text())
    expect(events.at(-1)).toMatchObject({
      event: "complete",
      data: { ok: false, kind: "NoAgentAvailable", error: expect.stringContaining("No agent is available") },
    })
  })

  it("claim with wait: true on an empty pool streams a wait step with its estimate, then completes with the agent the pool started", async () => {
    const res = await post(
      "/api/pool/claim",
      { agentName: "Patient", wait: true },
      { ...auth, accept: "text/event-stream", "idempotency-key": "k-sse-wait" },
    )
    const events = sseEvents(await res.text())
    const waiting = events.find((e) => e.event === "step" && (e.data as { step?: string }).step === "wait")
    expect(waiting?.data).toMatchObject({ status: "active", etaMs: expect.any(Number) })
    expect(events.at(-1)).toMatchObject({
      event: "complete",
      data: { ok: true, result: { agentName: "Patient", replayed: false } },
    })
  })

  it("drain streams a step per drained instance, then complete with the drained list", async () => {
    await warm(2)
    const res = await post("/api/pool/drain", { count: 2 }, { ...auth, accept: "text/event-stream" })
    expect(res.headers.get("content-type")).toContain("text/event-stream")
    const events = sseEvents(await res.text())
    const complete = events.at(-1)!
    expect(complete).toMatchObject({ event: "complete", data: { ok: true } })
    const drained = (complete.data.result as { drained: Array<{ id: string }> }).drained
    expect(drained).toHaveLength(2)
    const steps = events.filter((e) => e.event === "step" && e.data.step === "drain" && e.data.status === "ok")
    expect(steps.map((s) => s.data.instanceId).sort()).toEqual(drained.map((d) => d.id).sort())
  })

  it("streams progress as Server-Sent Events when asked", async () => {
    const res = await post("/api/pool/replenish", { count: 1 }, { ...auth, accept: "text/event-stream" })
    expect(res.headers.get("content-type")).toContain("text/event-stream")
    const text = await res.text()
    expect(text).toContain("event: step")
    const complete = /event: complete\ndata: (.*)\n/.exec(text)
    expect(complete).not.toBeNull()
    expect(JSON.parse(complete![1]!).ok).toBe(true)
  })

  it("admin: login sets a signed HttpOnly SameSite=Strict cookie; the key never appears in pages; wrong key 401", async () => {
    const page = await (await fetch(`${base}/admin`)).text()
    expect(page).toContain('type="password"')
    const wrong = await fetch(`${base}/admin/login`, {
      method: "POST",
      headers: { origin: base },
      body: new URLSearchParams({ key: "nope" }),
      redirect: "manual",
    })
    expect(wrong.status).toBe(401)
    const login = await fetch(`${base}/admin/login`, {
      method: "POST",
      headers: { origin: base },
      body: new URLSearchParams({ key: KEY }),
      redirect: "manual",
    })
    expect(login.status).toBe(303)
    const cookie = login.headers.get("set-cookie") ?? ""
    expect(cookie).toMatch(/HttpOnly/i)
    expect(cookie).toMatch(/SameSite=Strict/i)
    expect(cookie).toMatch(/Path=\//)
    expect(cookie).not.toContain(KEY)
    const session = cookie.split(";")[0]!
    const dash = await (await fetch(`${base}/admin`, { headers: { cookie: session } })).text()
    expect(dash).toContain("Replenish")
    // Ada (claimed in an earlier test) has her own row with status "claimed", not just the "claimed" filter pill.
    expect(rowOf(dash, "claimed", "Ada")).not.toBeNull()
    expect(dash).not.toContain(KEY)
    // A claimed agent has a QR modal with its invite URL.
    expect(dash).toContain("<svg")
    const forged = `${session.split(".").slice(0, -1).join(".")}.forged`
    expect(await (await fetch(`${base}/admin`, { headers: { cookie: forged } })).text()).toContain('type="password"')
    const cross = await fetch(`${base}/admin/actions/replenish`, {
      method: "POST",
      headers: { cookie: session, origin: "https://evil.example" },
      body: new URLSearchParams({ count: "1" }),
    })
    expect(cross.status).toBe(403)
    const ok = await fetch(`${base}/admin/actions/replenish`, {
      method: "POST",
      headers: { cookie: session, origin: base },
      body: new URLSearchParams({ count: "1" }),
    })
    expect(await ok.text()).toContain("Started 1 instance")
  })
})
