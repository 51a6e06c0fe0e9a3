import { Duration, Effect } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startHarness, type Harness } from "./harness.ts"
import { unescapeHtml, Visitor } from "./http.ts"

// The web catalog against strangers, over real HTTP: form posts only from this site (hono csrf) and only with their
// form token, security headers with a strict CSP on every page, the client address taken from the right of
// X-Forwarded-For behind TRUST_PROXY, Secure cookies behind an https edge, AGENTS_PER_OWNER per visitor and address,
// and a damaged invite link answered "malformed".

const idle = (h: Harness) => h.run(Pool.use((p) => p.counts).pipe(Effect.map((c) => c.idle)))
const noncePattern = /name="nonce" value="([^"]+)"/

describe("web: cross-site posts, form tokens, security headers", () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ idle: 3, rateLimit: { max: 100, windowMs: 60_000 } })
  })
  afterAll(async () => {
    await h?.stop()
  })

  it("a cross-site POST /t/<slug>/launch gets 403 and claims nothing; so does one with neither Origin nor Sec-Fetch-Site", async () => {
    const v = new Visitor(h.url)
    const nonce = noncePattern.exec((await v.get("/t/trip-planner")).text)![1]!
    const before = await idle(h)
    // Control: the post from this site's page (its Origin) works.
    expect((await v.post("/t/trip-planner/launch", { nonce })).status).toBe(303)
    const v2 = new Visitor(h.url, { origin: "https://evil.example" })
    const nonce2 = noncePattern.exec((await v2.get("/t/trip-planner")).text)![1]!
    const cross = await v2.post("/t/trip-planner/launch", { nonce: nonce2 })
    expect(cross.status).toBe(403)
    expect(unescapeHtml(cross.text)).toContain("Send the form from this site")
    const crossSite = await new Visitor(h.url, { origin: "null", "sec-fetch-site": "cross-site" }).post(
      "/t/trip-planner/launch",
      { nonce: nonce2 },
    )
    expect(crossSite.status).toBe(403)
    const bare = await fetch(`${h.url}/t/trip-planner/launch`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `nonce=${nonce2}`,
      redirect: "manual",
    })
    expect(bare.status).toBe(403)
    // Join and the devnet chat's send are forms too.
    expect((await v2.post("/join", { invite: "https://dev.convos.org/v2?i=x", nonce: nonce2 })).status).toBe(403)
    expect((await v2.post("/chat/send", { c: "x", text: "hi" })).status).toBe(403)
    expect(await idle(h)).toBe(before - 1)
  })

  it("a Launch or Join without its form token is refused with what to do, and claims nothing", async () => {
    const v = new Visitor(h.url)
    const before = await idle(h)
    const launch = await v.post("/t/trip-planner/launch", {})
    expect(launch.status).toBe(400)
    expect(unescapeHtml(launch.text)).toContain("Reload the template page and press Launch again")
    const join = await v.post("/join", { invite: "https://dev.convos.org/v2?i=x" })
    expect(join.status).toBe(400)
    expect(await idle(h)).toBe(before)
  })

  it("every page (and error page) carries the security headers and a strict CSP, and holds no script or inline style", async () => {
    const v = new Visitor(h.url)
    const paths = [
      "/",
      "/t/trip-planner",
      "/start/trip-planner",
      "/t/trip-planner/og.png",
      "/t/nope",
      "/nothing-here",
      "/a/unknown",
      "/chat?c=x",
      "/chat?invite=junk",
      "/assets/site.css",
    ]
    for (const path of paths) {
      const r = await v.get(path)
      const csp = r.headers.get("content-security-policy") ?? ""
      expect(csp, path).toContain("default-src 'none'")
      expect(csp, path).toContain("style-src 'self'")
      expect(csp, path).toContain("form-action 'self'")
      expect(csp, path).toContain("frame-ancestors 'self'")
      expect(csp, path).not.toContain("unsafe-inline")
      expect(r.headers.get("x-content-type-options"), path).toBe("nosniff")
      expect(r.headers.get("x-frame-options"), path).toBe("SAMEORIGIN")
      expect(r.headers.get("referrer-policy"), path).toBe("no-referrer")
      if ((r.headers.get("content-type") ?? "").includes("text/html")) {
        expect(r.text, path).not.toMatch(/<script|<style|\sstyle="/i)
        expect(r.text, path).toContain('<link rel="stylesheet" href="/assets/site.css"/>')
      }
    }
    const css = await v.get("/assets/site.css")
    expect(css.status).toBe(200)
    expect(css.headers.get("content-type")).toContain("text/css")
    expect(css.text).toContain(".qrfig{margin:0}")
  })

  it("an invite link with a broken %-escape is answered 'malformed' (400), not a server error", async () => {
    const v = new Visitor(h.url)
    const nonce = noncePattern.exec((await v.get("/")).text)![1]!
    const join = await v.post("/join", { invite: "https://convos.org/i/%E0%A4%A", nonce })
    expect(join.status).toBe(400)
    expect(unescapeHtml(join.text)).toContain("That invite link is damaged")
    const chat = await v.get(`/chat?invite=${encodeURIComponent("https://convos.org/i/%E0%A4%A")}`)
    expect(chat.status).toBe(400)
    expect(unescapeHtml(chat.text)).toContain("That invite link is damaged")
  })
})

describe("web behind a proxy (TRUST_PROXY=1)", () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ idle: 6, trustProxy: 1, rateLimit: { max: 2, windowMs: 60_000 } })
  })
  afterAll(async () => {
    await h?.stop()
  })

  it("the rate limit keys on the rightmost X-Forwarded-For entry: a spoofed leftmost one does not escape it", async () => {
    // Fresh cookies each time, so only the address can tie the requests together.
    const launch = (xff: string, n: number) =>
      new Visitor(h.url, { "x-forwarded-for": xff }).post("/t/trip-planner/launch", { nonce: `proxy-test-000${n}` })
    expect((await launch("1.1.1.1, 203.0.113.5", 1)).status).toBe(303)
    expect((await launch("2.2.2.2, 203.0.113.5", 2)).status).toBe(303)
    const third = await launch("3.3.3.3, 203.0.113.5", 3)
    expect(third.status).toBe(429)
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0)
    // Another client behind the same proxy has its own count.
    expect((await launch("203.0.113.5, 198.51.100.9", 4)).status).toBe(303)
  })

  it("cookies are Secure when the proxy says the edge is https, and not otherwise", async () => {
    const secure = await new Visitor(h.url, { "x-forwarded-proto": "https", "x-forwarded-for": "198.51.100.20" }).get(
      "/chat?c=x",
    )
    expect(secure.headers.getSetCookie().join("; ")).toMatch(/convos_visitor=[^;]+;.*Secure/i)
    const plain = await new Visitor(h.url, { "x-forwarded-proto": "http", "x-forwarded-for": "198.51.100.21" }).get(
      "/chat?c=x",
    )
    const cookie = plain.headers.getSetCookie().join("; ")
    expect(cookie).toContain("convos_visitor=")
    expect(cookie).not.toMatch(/Secure/i)
  })
})

describe("web without a trusted proxy (TRUST_PROXY=0, the default)", () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ idle: 3, rateLimit: { max: 2, windowMs: 60_000 } })
  })
  afterAll(async () => {
    await h?.stop()
  })

  it("X-Forwarded-For and X-Forwarded-Proto are ignored: the socket address is the client, cookies are not Secure", async () => {
    const launch = (xff: string, n: number) =>
      new Visitor(h.url, { "x-forwarded-for": xff, "x-forwarded-proto": "https" }).post("/t/trip-planner/launch", {
        nonce: `direct-test-000${n}`,
      })
    const first = await launch("10.0.0.1", 1)
    expect(first.status).toBe(303)
    expect(first.headers.getSetCookie().join("; ")).not.toMatch(/Secure/i)
    expect((await launch("10.0.0.2", 2)).status).toBe(303)
    expect((await launch("10.0.0.3", 3)).status).toBe(429)
  })
})

describe("web quota (AGENTS_PER_OWNER=3)", () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({
      idle: 6,
      rateLimit: { max: 100, windowMs: 60_000 },
      settings: { quotas: { agentsPerOwner: 3, apiClaimsPerHour: 60, webAgentTtl: Duration.hours(24) } },
    })
  })
  afterAll(async () => {
    await h?.stop()
  })

  it("a visitor's 4th launch is refused (429) with a page that says what to do; a fresh cookie from the same address too", async () => {
    const v = new Visitor(h.url)
    for (let i = 0; i < 3; i++)
      expect((await v.post("/t/trip-planner/launch", { nonce: `quota-test-000${i}` })).status).toBe(303)
    const before = await idle(h)
    const fourth = await v.post("/t/trip-planner/launch", { nonce: "quota-test-0003" })
    expect(fourth.status).toBe(429)
    const text = unescapeHtml(fourth.text)
    expect(text).toContain("You have enough agents for now")
    expect(text).toContain("already has 3 agents running, the most one visitor can have.")
    expect(text).toContain("released 24 hours after its launch")
    expect(text).toContain("manager chat")
    expect((await new Visitor(h.url).post("/t/trip-planner/launch", { nonce: "quota-test-0004" })).status).toBe(429)
    expect(await idle(h)).toBe(before)
  })
})
