import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Pool } from "../../pool/Pool.ts"
import { MemoryCloud } from "../../pool/testing.ts"
import { type ApiServer, sseEvents, startApi } from "./server.ts"

// POST /api/pool/upgrade over HTTP: refused without the key (nothing restarted), with it the report of the rolling
// upgrade (JSON, or each agent's step as SSE), and 409 with a clear line while another upgrade runs.

let api: ApiServer
beforeAll(async () => {
  // A restart keeps an agent away 300 ms, so an upgrade lasts long enough for a second request to meet it.
  api = await startApi({ cloud: { restartTakes: "300 millis" } })
  await api.warm(3)
  await api.runtime.runPromise(
    Effect.flatMap(Pool, (p) => p.claim({ key: "upgrade-api", claimedBy: "api:owner", agentName: "Kept" })),
  )
})
afterAll(async () => {
  await api?.close()
})

const restarts = () => api.runtime.runPromise(Effect.map(MemoryCloud, (c) => c.stats.restarts))

describe("POST /api/pool/upgrade", () => {
  it("without the key (or a wrong one): 401 and nothing restarts", async () => {
    const before = await restarts()
    const missing = await fetch(`${api.base}/api/pool/upgrade`, { method: "POST" })
    expect(missing.status).toBe(401)
    const wrong = await fetch(`${api.base}/api/pool/upgrade`, {
      method: "POST",
      headers: { authorization: "Bearer not-the-key" },
    })
    expect(wrong.status).toBe(401)
    expect(await restarts()).toBe(before)
  })

  it("with the key: every agent restarted, the report says how many; a second one meanwhile gets 409", async () => {
    const before = await restarts()
    const first = api.post("/api/pool/upgrade", {})
    await new Promise((r) => setTimeout(r, 150))
    const second = await api.post("/api/pool/upgrade", {})
    expect(second.status).toBe(409)
    expect((await second.json()).error).toBe(
      "An upgrade is already running; wait for its report (nothing new was started).",
    )
    const res = await first
    expect(res.status).toBe(200)
    const report = await res.json()
    expect(report).toMatchObject({
      idle: { restarted: 2, failed: 0 },
      claimed: { restarted: 1, failed: 0 },
      failures: [],
    })
    expect(report.durationMs).toEqual(expect.any(Number))
    expect(await restarts()).toBe(before + 3)
  })

  it("as SSE: one step per agent restarting and back, then the report", async () => {
    const res = await api.post("/api/pool/upgrade", {}, { ...api.auth, accept: "text/event-stream" })
    expect(res.status).toBe(200)
    const events = sseEvents(await res.text())
    const steps = events.filter((e) => e.event === "step").map((e) => `${e.data.step} ${e.data.status}`)
    expect(steps.filter((s) => s === "upgrade-claimed active")).toHaveLength(1)
    expect(steps.filter((s) => s === "upgrade-claimed ok")).toHaveLength(1)
    expect(steps.filter((s) => s === "upgrade-idle ok")).toHaveLength(2)
    const complete = events.find((e) => e.event === "complete")!
    expect(complete.data).toMatchObject({ ok: true, result: { claimed: { restarted: 1, failed: 0 } } })
  })
})
