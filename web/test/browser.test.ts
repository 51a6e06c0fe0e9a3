import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import jsQRModule from "jsqr"
import { PNG } from "pngjs"
import { chromium, type BrowserContext, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { greetingOf } from "./fixtures/devnetAgents.ts"
import { startHarness, type Harness } from "./harness.ts"

// End to end in Debian's headless Chromium: home → category filter → template → Launch → the agent's invite QR (decoded
// from a screenshot) → the devnet chat view with the agent's greeting → send a message. Screenshots land in
// web/test/screenshots/ (git-ignored).

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"
const shots = join(import.meta.dirname, "screenshots")

// jsqr is CommonJS whose module.exports also carries .default: take the function either way.
const jsQR = jsQRModule.default

const decodeQr = (png: Buffer): string | null => {
  const image = PNG.sync.read(png)
  return (
    jsQR(new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.length), image.width, image.height)
      ?.data ?? null
  )
}

describe("web catalog in headless Chromium", () => {
  let h: Harness
  let browser: BrowserContext
  let profile: string
  let page: Page

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is missing at ${CHROMIUM}: install it with \`apt-get update && apt-get install -y chromium\` (npm test installs it when run as root), or set CHROMIUM_PATH.`,
      )
    }
    mkdirSync(shots, { recursive: true })
    profile = mkdtempSync(join(tmpdir(), "convos-web-chromium-"))
    h = await startHarness({ idle: 1 })
    // A fresh profile per run (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1100, height: 1000 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    })
    page = await browser.newPage()
  })

  afterAll(async () => {
    await browser?.close()
    await h?.stop()
    if (profile) rmSync(profile, { recursive: true, force: true })
  })

  it("browses, launches an agent, decodes its invite QR and chats with it on the devnet", async () => {
    await page.goto(`${h.url}/`)
    await expect(page.locator("h1").textContent()).resolves.toBe("AI agents for your group chats")
    await page.screenshot({ path: join(shots, "1-home.png"), fullPage: true })

    await page.getByRole("link", { name: "Life", exact: true }).click()
    await page.waitForURL(/\?category=Life$/)
    const categories = await page
      .locator("ul.grid > li")
      .evaluateAll((cards) => cards.map((c) => c.getAttribute("data-category")))
    expect(categories.length).toBeGreaterThan(0)
    expect(new Set(categories)).toEqual(new Set(["Life"]))
    await page.screenshot({ path: join(shots, "2-category-life.png"), fullPage: true })

    await page.getByRole("link", { name: /Trip Planner/ }).click()
    await page.waitForURL(/\/t\/trip-planner$/)
    await expect(page.locator("h1").textContent()).resolves.toContain("Trip Planner")
    await page.screenshot({ path: join(shots, "3-template.png"), fullPage: true })

    await page.getByRole("button", { name: "Launch" }).click()
    await page.waitForURL(/\/a\//)
    const inviteUrl = await page.locator("#agent-invite").getAttribute("href")
    expect(inviteUrl).toMatch(new RegExp(`^${h.url}/v2\\?i=`))
    await page.screenshot({ path: join(shots, "4-launched.png"), fullPage: true })
    const qr = await page.locator("svg.qr").screenshot({ path: join(shots, "4-agent-qr.png") })
    expect(decodeQr(qr)).toBe(inviteUrl)

    await page.locator("#open-chat").click()
    await page.waitForURL(/\/chat\?c=/)
    const messages = page.frameLocator("iframe.messages")
    await messages
      .locator('li[data-sender="Trip Planner"]', { hasText: greetingOf("Trip Planner") })
      .waitFor({ timeout: 20_000 })
    await page.screenshot({ path: join(shots, "5-chat-greeting.png"), fullPage: true })

    await page.getByRole("textbox", { name: "Message" }).fill("Plan a weekend in Lisbon")
    await page.getByRole("button", { name: "Send" }).click()
    await page.waitForURL(/\/chat\?c=/)
    await page
      .frameLocator("iframe.messages")
      .locator('li[data-sender="You"]', { hasText: "Plan a weekend in Lisbon" })
      .waitFor({ timeout: 10_000 })
    await page.screenshot({ path: join(shots, "6-chat-sent.png"), fullPage: true })
  })
})
