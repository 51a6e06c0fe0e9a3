import { Duration, Effect } from "effect"
import { SqlClient } from "effect/sql"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { recordSample } from "../../observability/history.ts"
import { type ApiServer, startApi } from "./server.ts"

// Starting and stopping test pools takes minutes on a loaded 2-core machine.
const HOOK_TIMEOUT = 600_000

// The pool history charts (/admin/history) over real HTTP: SVG drawn on the server from pool_samples and the events
// audit. One server whose tick records its own samples, and one without a tick whose history the test writes
// (samples at known times, claims with known latencies), so every figure on the charts is checked.

const HOUR = 3_600_000
const zero = { starting: 0, idle: 0, claiming: 0, claimed: 0, crashed: 0, dead: 0, draining: 0, total: 0 }

let written: ApiServer
let ticking: ApiServer
const sessions = { written: "", ticking: "" }

beforeAll(async () => {
  written = await startApi({ settings: { minIdle: 0 } })
  ticking = await startApi({
    settings: { runTick: true, tickInterval: Duration.millis(200), minIdle: 2, providerCallsPerDay: 7000 },
  })
  sessions.written = await written.session()
  sessions.ticking = await ticking.session()
}, HOOK_TIMEOUT)
afterAll(async () => {
  await written?.close()
  await ticking?.close()
}, HOOK_TIMEOUT)

const history = async (api: ApiServer, cookie: string) => {
  const res = await fetch(`${api.base}/admin/history`, { headers: { cookie } })
  expect(res.status).toBe(200)
  return await res.text()
}
/** The <desc> of one chart: its series' latest and highest values. */
const desc = (html: string, chart: string) =>
  new RegExp(`<desc id="chart-${chart}-desc">(.*?)</desc>`, "s").exec(html)?.[1]?.replace(/<!-- -->/g, "") ?? ""
/** Points of one series' polyline. */
const points = (html: string, chart: string, series: string) => {
  const figure = new RegExp(`<figure class="chart" id="chart-${chart}">.*?</figure>`, "s").exec(html)?.[0] ?? ""
  const line = new RegExp(`<g data-series="${series}"><polyline[^>]* points="([^"]*)"`).exec(figure)?.[1]
  return line ? line.split(" ").map((p) => p.split(",").map(Number) as [number, number]) : []
}

describe("admin pool history", { timeout: 300_000 }, () => {
  it("charts written samples: states, claims waiting, requests over the trailing 24 h against the budget, claim latency p50/p99", async () => {
    const now = Date.now()
    await written.runtime.runPromise(
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        // 30 h ago: outside the window, but its requests count in the trailing day of the first point shown.
        yield* recordSample(sql, new Date(now - 30 * HOUR), { ...zero, idle: 9 }, 0, 100, 5000)
        yield* recordSample(sql, new Date(now - 20 * HOUR), { ...zero, idle: 2, starting: 1 }, 0, 40, 5000)
        yield* recordSample(sql, new Date(now - 10 * HOUR), { ...zero, idle: 5, claimed: 3 }, 4, 60, 5000)
        yield* recordSample(sql, new Date(now - 1 * HOUR), { ...zero, idle: 3, claimed: 4, crashed: 1 }, 1, 10, 6000)
        // Two claims 5 h ago taking 2 s and 10 s; one 2 h ago taking 4 s.
        const claimAt = (instance: string, at: number, seconds: number) =>
          sql`INSERT INTO events (instance_id, from_status, to_status, kind, created_at) VALUES
                (${instance}, 'idle', 'claiming', 'claim', ${new Date(at)}),
                (${instance}, 'claiming', 'claimed', 'provisioned', ${new Date(at + seconds * 1000)})`
        const fiveAgo = Math.floor((now - 5 * HOUR) / HOUR) * HOUR + 60_000
        yield* claimAt("h-1", fiveAgo, 2)
        yield* claimAt("h-2", fiveAgo + 60_000, 10)
        yield* claimAt("h-3", Math.floor((now - 2 * HOUR) / HOUR) * HOUR + 60_000, 4)
      }),
    )
    const html = await history(written, sessions.written)
    expect(html).toContain("3 sample(s)")
    expect(desc(html, "states")).toContain("idle: latest 3, highest 5")
    expect(desc(html, "states")).toContain("claimed: latest 4, highest 4")
    expect(desc(html, "states")).toContain("crashed: latest 1, highest 1")
    expect(desc(html, "states")).toContain("starting: latest 0, highest 1")
    expect(points(html, "states", "idle")).toHaveLength(3)
    expect(desc(html, "waiting")).toContain("claims waiting: latest 1, highest 4")
    // Trailing 24 h: 100+40 at -20 h, 100+40+60 at -10 h; 40+60+10 at -1 h (the -30 h sample has left the day).
    expect(desc(html, "calls")).toContain("requests in the trailing 24 h: latest 110, highest 200")
    expect(desc(html, "calls")).toContain("daily budget: 6000")
    expect(html).toContain("Provider requests per day: 110 in the last 24 h of 6000 budgeted")
    // p50 of {2, 10} is 6, p99 is 9.92; the later hour is the single 4 s claim.
    expect(desc(html, "latency")).toContain("p50: latest 4 s, highest 6 s")
    expect(desc(html, "latency")).toContain("p99: latest 4 s, highest 9.92 s")
    expect(points(html, "latency", "p99")).toHaveLength(2)
    // Later points are further right; a higher value is drawn higher (smaller y).
    const idle = points(html, "states", "idle")
    expect(idle[0]![0]).toBeLessThan(idle[1]![0])
    expect(idle[1]![1]).toBeLessThan(idle[0]![1])
    // No script anywhere: the charts are plain SVG.
    expect(html).not.toContain("<script")
    expect(html).toContain("<svg")
  })

  it("the tick records its own samples and the charts show them; without samples the charts say so", async () => {
    const fresh = await startApi({ settings: { minIdle: 0 } })
    try {
      const empty = await history(fresh, await fresh.session())
      expect(empty).toContain("0 sample(s)")
      expect(desc(empty, "states")).toContain("no samples yet")
      expect(desc(empty, "latency")).toContain("no claims in the last 24 h")
    } finally {
      await fresh.close()
    }
    // The ticking pool (POOL_MIN_IDLE=2) samples on its first tick, which starts its two agents.
    for (;;) {
      const html = await history(ticking, sessions.ticking)
      const d = desc(html, "states")
      if (!d.includes("no samples yet")) {
        const latest = (s: string) => Number(new RegExp(`${s}: latest (\\d+)`).exec(d)?.[1] ?? -1)
        expect(latest("starting") + latest("idle")).toBe(2)
        expect(desc(html, "calls")).toMatch(/requests in the trailing 24 h: latest [1-9]\d*/)
        expect(desc(html, "calls")).toContain("daily budget: 7000")
        break
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  })

  it("needs the admin session", async () => {
    const res = await fetch(`${written.base}/admin/history`, {
      headers: { authorization: "Bearer test-key-0123456789" },
    })
    expect(res.status).toBe(401)
    const html = await res.text()
    expect(html).toContain('action="/admin/login"')
    expect(html).not.toContain("<svg")
    expect(await (await fetch(`${written.base}/admin`, { headers: { cookie: sessions.written } })).text()).toContain(
      '<a href="/admin/history">',
    )
  })
})
