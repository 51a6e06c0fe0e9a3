import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { type BrowserContext, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { recordSample } from "../../observability/history.ts"
import { Pool } from "../../pool/Pool.ts"
import { MemoryCloud } from "../../pool/testing.ts"
import { AgentResources } from "../../providers/AgentResources.ts"
import { ProviderFakes, testKeyName } from "../../providers/resources/testing.ts"
import { poolOverProviderFakes, serveApi } from "./server.ts"

// The admin instance page and the pool history charts in Debian's headless Chromium with JavaScript switched off
// (the pages must work without it): sign in with the form, open an agent from the dashboard, top it up, dismiss a
// crashed one, open the charts. The pool runs over the loopback provider fakes; the 24 h of history are written by the
// test (samples every 15 minutes, claims with known latencies) since a test cannot wait a day. Screenshots land in
// pool-core/api/test/screenshots/ (git-ignored); with UPDATE_DOCS_SCREENSHOTS=1 they are copied to docs/screenshots/.

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"
const KEY = "test-key-browser-0123456789"
const shots = join(import.meta.dirname, "screenshots")
const docsShots = join(import.meta.dirname, "..", "..", "..", "docs", "screenshots")
const HOUR = 3_600_000
// Starting Chromium and a test pool takes minutes on a loaded 2-core machine.
const HOOK_TIMEOUT = 600_000

const runtime = poolOverProviderFakes()
let base = ""
let close = () => Promise.resolve()
let browser: BrowserContext
let profile = ""
let page: Page
let ivy = ""

const shoot = async (name: string) => {
  const path = join(shots, name)
  await page.screenshot({ path, fullPage: true })
  if (process.env.UPDATE_DOCS_SCREENSHOTS === "1") {
    mkdirSync(docsShots, { recursive: true })
    copyFileSync(path, join(docsShots, name))
  }
}

/** A day of pool history: a morning rush of claims, a few crashes, a budget of 8000 provider requests a day. */
const writeHistory = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const now = Date.now()
  yield* sql`DELETE FROM pool_samples` // the sample of the test pool's own tick (its budget is a test's)
  for (let n = 96; n >= 1; n--) {
    const at = now - n * 15 * 60_000
    const hour = new Date(at).getUTCHours()
    const busy = hour >= 8 && hour <= 11 ? 1 : 0
    const claimed = Math.round(4 + (96 - n) / 12)
    const counts = {
      starting: busy * 2 + (n % 7 === 0 ? 1 : 0),
      idle: busy ? 1 : 3,
      claiming: busy && n % 3 === 0 ? 1 : 0,
      claimed,
      crashed: n < 30 && n % 11 === 0 ? 1 : 0,
      dead: 0,
      draining: n % 17 === 0 ? 1 : 0,
      total: 0,
    }
    yield* recordSample(sql, new Date(at), counts, busy * (n % 4), 40 + busy * 60 + (n % 5) * 4, 8000)
  }
  for (let h = 23; h >= 1; h--) {
    for (let k = 0; k < 3; k++) {
      const at = Math.floor((now - h * HOUR) / HOUR) * HOUR + (k + 1) * 600_000
      const seconds = 0.4 + ((h * 7 + k * 3) % 10) / 4 + (k === 2 && h % 6 === 0 ? 25 : 0)
      const id = `history-${h}-${k}`
      yield* sql`INSERT INTO events (instance_id, from_status, to_status, kind, created_at) VALUES
        (${id}, 'idle', 'claiming', 'claim', ${new Date(at)}),
        (${id}, 'claiming', 'claimed', 'provisioned', ${new Date(at + seconds * 1000)})`
    }
  }
})

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `Chromium is missing at ${CHROMIUM}: install it with \`apt-get update && apt-get install -y chromium\`, or set CHROMIUM_PATH.`,
    )
  mkdirSync(shots, { recursive: true })
  await runtime.runPromise(Effect.flatMap(Pool, (p) => p.replenish(3).pipe(Effect.andThen(p.tick))))
  const served = await serveApi(runtime, KEY)
  base = served.base
  close = served.close
  const claim = await fetch(`${base}/api/pool/claim`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${KEY}`,
      "content-type": "application/json",
      "idempotency-key": "browser-ivy",
      "x-client-label": "ops-demo",
    },
    body: JSON.stringify({ agentName: "Ivy", templateSlug: "trip-planner" }),
  })
  expect(claim.status).toBe(200)
  ivy = ((await claim.json()) as { instanceId: string }).instanceId
  const fakes = await runtime.runPromise(Effect.service(ProviderFakes))
  const hash = [...fakes.openrouter.state.keys.values()].find((k) => k.name === testKeyName(ivy))!.hash
  fakes.openrouter.state.setUsage(hash, { total: 4.2, thisPeriod: 3.1 })
  // One claim whose setup fails: a crashed instance with its reason.
  await runtime.runPromise(
    Effect.flatMap(MemoryCloud, (c) => Effect.sync(() => c.failProvisions(1, "the gateway did not start"))),
  )
  const failed = await fetch(`${base}/api/pool/claim`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", "idempotency-key": "browser-crash" },
    body: JSON.stringify({ agentName: "Rex" }),
  })
  expect(failed.status).toBe(502)
  await runtime.runPromise(writeHistory)

  profile = mkdtempSync(join(tmpdir(), "convos-admin-chromium-"))
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    javaScriptEnabled: false,
    viewport: { width: 1200, height: 900 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  })
  page = await browser.newPage()
}, HOOK_TIMEOUT)

afterAll(async () => {
  await browser?.close()
  await close()
  await runtime.dispose()
  if (profile) rmSync(profile, { recursive: true, force: true })
}, HOOK_TIMEOUT)

describe("admin pages in headless Chromium without JavaScript", { timeout: 300_000 }, () => {
  it("signs in, opens an agent from the dashboard, sees its resources, events and log, and tops it up", async () => {
    await page.goto(`${base}/admin`)
    await page.getByLabel("API key").fill(KEY)
    await page.getByRole("button", { name: "Sign in" }).click()
    await page.waitForURL(`${base}/admin`)
    await page.locator("tr", { hasText: "Ivy" }).getByRole("link", { name: "Details" }).click()
    await page.waitForURL(`${base}/admin/instances/${ivy}`)

    await expect(page.locator("h1").textContent()).resolves.toContain("Ivy")
    const fact = (label: string) => page.locator(`dt:text-is("${label}") + dd`).textContent()
    await expect(fact("owner")).resolves.toBe("api:ops-demo")
    await expect(fact("template")).resolves.toBe("trip-planner")
    const held = await runtime.runPromise(Effect.flatMap(AgentResources, (r) => r.held(ivy)))
    await expect(fact("email")).resolves.toBe(held.find((r) => r.provider === "agentmail")!.externalId)
    await expect(fact("phone")).resolves.toBe(held.find((r) => r.provider === "telnyx")!.externalId)
    await expect(fact("wallet")).resolves.toBe(held.find((r) => r.provider === "wallet")!.externalId)
    await expect(fact("OpenRouter")).resolves.toBe("$3.10 spent of cap $20.00 (resets monthly) — 16%")
    await expect(page.locator("#events tbody tr").count()).resolves.toBeGreaterThanOrEqual(4)
    expect(await page.locator("#log").isVisible()).toBe(true)
    await expect(page.locator("#log").textContent()).resolves.toContain('[memory] provisioned as "Ivy"')
    // The stylesheet applies (the CSP allows only this site's own): the log is a dark box.
    const box = await page.locator("#log").boundingBox()
    expect(box!.height).toBeGreaterThan(20)
    await shoot("admin-instance.png")

    await page.getByLabel("USD to add to the spending cap").fill("2.50")
    await page.getByRole("button", { name: "Top up" }).click()
    await page.waitForURL(`${base}/admin/actions/topup`)
    await expect(page.locator("#notice").textContent()).resolves.toBe(
      `Topped up ${ivy.slice(0, 8)} by $2.50: its cap is now $22.50.`,
    )
    await expect(fact("OpenRouter")).resolves.toContain("cap $22.50")
    await expect(page.locator("#events tbody tr").first().textContent()).resolves.toContain("topup")
  })

  it("a crashed agent's page shows why, and its Dismiss button removes it", async () => {
    await page.goto(`${base}/admin?status=crashed`)
    await page.locator("tr", { hasText: "crashed" }).getByRole("link", { name: "Details" }).click()
    await page.waitForURL(/\/admin\/instances\//)
    await expect(page.locator("#last-error").textContent()).resolves.toContain("the gateway did not start")
    await shoot("admin-instance-crashed.png")
    await page.getByRole("button", { name: "Dismiss" }).click()
    await expect(page.locator("h1").textContent()).resolves.toMatch(/^Instance [0-9a-f-]+ is gone$/)
    await expect(page.locator("#events").textContent()).resolves.toContain("dismiss")
  })

  it("the history page draws the day's charts as SVG", async () => {
    await page.goto(`${base}/admin`)
    await page.getByRole("link", { name: "Pool history (24 h)" }).click()
    await page.waitForURL(`${base}/admin/history`)
    const charts = page.locator("figure.chart")
    await expect(charts.count()).resolves.toBe(4)
    for (const id of ["chart-states", "chart-latency", "chart-waiting", "chart-calls"]) {
      const svg = page.locator(`#${id} svg`)
      const box = await svg.boundingBox()
      expect(box!.width, id).toBeGreaterThan(300)
      expect(box!.height, id).toBeGreaterThan(100)
      expect(await page.locator(`#${id} polyline`).count(), id).toBeGreaterThanOrEqual(1)
    }
    await expect(page.locator("#chart-states polyline").count()).resolves.toBe(7)
    await expect(page.locator("#chart-calls .reference").count()).resolves.toBe(1)
    await expect(page.locator("#chart-latency-desc").textContent()).resolves.toMatch(/p99: latest [\d.]+ s/)
    await shoot("admin-history.png")
  })
})
