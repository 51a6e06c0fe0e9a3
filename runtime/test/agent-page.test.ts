// The agent's own page (runtime/src/http/agentPage.ts) in Debian's headless Chromium: the runtime's request handler on a
// loopback server with a real ConvosAgent on a devnet, and a loopback stand-in for the pool's agent service API that
// checks the instance credentials. The owner's signed link opens the landing page (invite link + its QR, decoded from
// a screenshot), which is installable (Chromium's own installability check over CDP); the services page shows the
// email, phone and spend against the cap, and "request more" reaches the pool's request-more endpoint once (the pool
// side, which makes the manager bot tell the owner, is in pool-core/api/test/agent-page.test.ts). Unsigned, tampered
// and expired links get the refusal page.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import jsQRModule from "jsqr"
import { PNG } from "pngjs"
import { type BrowserContext, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DevnetMessaging } from "@convos-agents/messaging"
import { agentPageQuery, agentPageUrl } from "@convos-agents/contract"
import { createConvosRuntime, type ConvosRuntime } from "../src/plugin/convosRuntime.ts"
import { startTestDevnet } from "./support/devnet.ts"
import { type ServicesFake, startServicesFake } from "./support/servicesFake.ts"

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"
const shots = join(import.meta.dirname, "..", "..", "web", "test", "screenshots")
const TOKEN = "agent-page-instance-token"
const ID = "page-agent-1"
const jsQR = jsQRModule.default

let devnet: Awaited<ReturnType<typeof startTestDevnet>>
let services: ServicesFake
let convos: ConvosRuntime
let server: Server
let base: string
let stateDir: string
let profile: string
let browser: BrowserContext
let page: Page
let inviteUrl: string

const decodeQr = (png: Buffer): string | null => {
  const image = PNG.sync.read(png)
  return (
    jsQR(new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.length), image.width, image.height)
      ?.data ?? null
  )
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `Chromium is missing at ${CHROMIUM}: install it with \`apt-get update && apt-get install -y chromium\` (npm test installs it when run as root), or set CHROMIUM_PATH.`,
    )
  mkdirSync(shots, { recursive: true })
  devnet = await startTestDevnet()
  services = await startServicesFake({
    instanceId: ID,
    token: TOKEN,
    held: { email: { address: "page-agent@agentmail.to" }, phone: { number: "+15555550123" }, wallet: null },
  })
  services.spend = { usedUsd: 1.25, limitUsd: 5, limitReset: "monthly" }
  stateDir = mkdtempSync(join(tmpdir(), "runtime-page-"))
  convos = createConvosRuntime({
    env: {
      OPENCLAW_STATE_DIR: stateDir,
      INSTANCE_TOKEN: TOKEN,
      INSTANCE_ID: ID,
      POOL_SERVICES_URL: services.url,
      PORT: "18998",
    },
    rewriteConfig: false,
    messaging: DevnetMessaging.layerFromUrl(devnet.url),
    dispatch: async () => ({ delivered: 0, silent: true }),
  })
  server = createServer((req, res) => {
    void convos.handle(req, res).then((handled) => {
      if (!handled) {
        res.statusCode = 404
        res.end()
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  await convos.start()
  const provisioned = await fetch(`${base}/pool/provision`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ agentName: "Page Helper", instructions: "" }),
  })
  expect(provisioned.status).toBe(200)
  inviteUrl = ((await provisioned.json()) as { inviteUrl: string }).inviteUrl
  profile = mkdtempSync(join(tmpdir(), "convos-page-chromium-"))
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 900, height: 1000 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  })
  page = await browser.newPage()
}, 240_000)

afterAll(async () => {
  await browser?.close()
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  await convos?.stop()
  await services?.close()
  await devnet?.close()
  if (stateDir) rmSync(stateDir, { recursive: true, force: true })
  if (profile) rmSync(profile, { recursive: true, force: true })
}, 60_000)

describe("the agent's own page in headless Chromium", () => {
  it("the owner's link opens the landing page: the invite link and its QR code, installable", async () => {
    const link = agentPageUrl(base, TOKEN, Date.now())
    const res = await page.goto(link)
    expect(res?.status()).toBe(200)
    await expect(page.locator("h1").textContent()).resolves.toBe("Page Helper")
    await expect(page.locator("#invite-link").getAttribute("href")).resolves.toBe(inviteUrl)
    const qr = await page.locator("#invite-qr svg").screenshot({ path: join(shots, "agent-page-1-landing-qr.png") })
    expect(decodeQr(qr)).toBe(inviteUrl)

    // The manifest the page links, as Chromium reads it, and Chromium's own verdict on installing the page.
    const manifestHref = await page.locator('link[rel="manifest"]').getAttribute("href")
    const manifest = (await (await fetch(new URL(manifestHref!, base))).json()) as Record<string, any>
    expect(manifest).toMatchObject({ name: "Page Helper", display: "standalone", scope: "/convos/page" })
    expect(manifest.start_url).toBe(new URL(link).pathname + new URL(link).search)
    const cdp = await browser.newCDPSession(page)
    const deadline = Date.now() + 60_000
    let errors: Array<{ errorId: string }> = [{ errorId: "not asked yet" }]
    while (Date.now() < deadline) {
      errors = ((await cdp.send("Page.getInstallabilityErrors")) as { installabilityErrors: typeof errors })
        .installabilityErrors
      if (errors.length === 0) break
      await new Promise((r) => setTimeout(r, 500))
    }
    expect(errors).toEqual([])
    const app = (await cdp.send("Page.getAppManifest")) as { url: string; errors: ReadonlyArray<unknown> }
    expect(app.url).toBe(new URL(manifestHref!, base).href)
    expect(app.errors).toEqual([])
  }, 120_000)

  it("the services page shows the email, phone and spend against the cap; request more reaches the pool once", async () => {
    await page.goto(agentPageUrl(base, TOKEN, Date.now()))
    await page.getByRole("link", { name: "Services" }).click()
    await page.waitForURL(/\/convos\/page\/services\?exp=\d+&sig=/)
    await expect(page.locator("#email").textContent()).resolves.toBe("page-agent@agentmail.to")
    await expect(page.locator("#phone").textContent()).resolves.toBe("+15555550123")
    await expect(page.locator("#spend").textContent()).resolves.toBe("$1.25 of $5.00 (resets monthly)")
    await page.screenshot({ path: join(shots, "agent-page-2-services.png"), fullPage: true })

    expect(services.moreRequested).toBe(0)
    await page.locator("#request-more").click()
    await expect(page.locator("#notice").textContent()).resolves.toContain("the owner got your request")
    expect(services.moreRequested).toBe(1)
    const call = services.requests.filter((r) => r.path === "/api/agent-services/request-more")
    expect(call).toHaveLength(1)
    expect(call[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`)
    expect(call[0]!.headers["x-instance-id"]).toBe(ID)
    // A second click does not ask the owner again.
    await page.locator("#request-more").click()
    await expect(page.locator("#notice").textContent()).resolves.toContain("asked already")
    expect(services.moreRequested).toBe(1)
    expect(services.violations).toEqual([])
  }, 120_000)

  it("an unsigned, tampered or expired link gets the refusal page, and no data", async () => {
    const exp = Math.floor(Date.now() / 1000) + 3600
    const good = agentPageQuery(TOKEN, exp)
    const cases = [
      ["unsigned", "/convos/page", /has no signature/],
      ["unsigned", "/convos/page/services", /has no signature/],
      ["tampered", `/convos/page?exp=${exp + 1}&${good.split("&")[1]}`, /not valid/],
      ["tampered", `/convos/page/services?${agentPageQuery("another-agents-token", exp)}`, /not valid/],
      ["expired", `/convos/page?${agentPageQuery(TOKEN, Math.floor(Date.now() / 1000) - 1)}`, /expired/],
      ["expired", `/convos/page/manifest.webmanifest?${agentPageQuery(TOKEN, 1)}`, /expired/],
    ] as const
    for (const [reason, path, text] of cases) {
      const res = await page.goto(`${base}${path}`)
      expect(res?.status(), path).toBe(403)
      await expect(page.locator("#refusal").getAttribute("data-reason")).resolves.toBe(reason)
      await expect(page.locator("#refusal").textContent()).resolves.toMatch(text)
      const html = await page.content()
      expect(html).not.toContain(inviteUrl)
      expect(html).not.toContain("page-agent@agentmail.to")
    }
    await page.screenshot({ path: join(shots, "agent-page-3-refused.png"), fullPage: true })
    // A tampered request-more asks nobody.
    const before = services.moreRequested
    const forged = await fetch(`${base}/convos/page/request-more?exp=${exp}&sig=forged`, { method: "POST" })
    expect(forged.status).toBe(403)
    expect(services.moreRequested).toBe(before)
  }, 120_000)
})
