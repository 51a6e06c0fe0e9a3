import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ApiServer, KEY, startApi } from "./server.ts"

// The admin page and the API against strangers, over real HTTP: the sign-in is rate-limited per client address (the
// right X-Forwarded-For entry behind TRUST_PROXY), admin forms only from this site (hono csrf), the session cookie
// Secure behind an https edge, and every response carries the security headers with a strict CSP.

const login = (api: ApiServer, key: string, headers: Record<string, string> = {}) =>
  fetch(`${api.base}/admin/login`, {
    method: "POST",
    headers: { origin: api.base, ...headers },
    body: new URLSearchParams({ key }),
    redirect: "manual",
  })

describe("admin sign-in rate limit (3 attempts per window), no proxy", () => {
  let api: ApiServer
  beforeAll(async () => {
    api = await startApi({ api: { trustProxy: 0, loginLimit: { max: 3, windowMs: 60_000 } } })
  })
  afterAll(async () => {
    await api?.close()
  })

  it("after 3 attempts the 4th gets 429 with Retry-After, even with the right key and a made-up X-Forwarded-For", async () => {
    for (let i = 0; i < 3; i++) expect((await login(api, `wrong-key-${i}`)).status).toBe(401)
    const limited = await login(api, KEY, { "x-forwarded-for": "192.0.2.44" })
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0)
    expect(await limited.text()).toContain(
      "Too many sign-in attempts from your address. Wait 1 minute, then try again.",
    )
    expect(limited.headers.get("set-cookie")).toBeNull()
  })
})

describe("admin behind a proxy (TRUST_PROXY=1)", () => {
  let api: ApiServer
  beforeAll(async () => {
    api = await startApi({ api: { trustProxy: 1, loginLimit: { max: 2, windowMs: 60_000 } } })
  })
  afterAll(async () => {
    await api?.close()
  })

  it("the sign-in limit keys on the rightmost X-Forwarded-For entry: rotating the leftmost one does not reset it", async () => {
    expect((await login(api, "guess-1", { "x-forwarded-for": "1.1.1.1, 203.0.113.9" })).status).toBe(401)
    expect((await login(api, "guess-2", { "x-forwarded-for": "2.2.2.2, 203.0.113.9" })).status).toBe(401)
    expect((await login(api, "guess-3", { "x-forwarded-for": "3.3.3.3, 203.0.113.9" })).status).toBe(429)
    // Someone else behind the same proxy still signs in.
    expect((await login(api, KEY, { "x-forwarded-for": "203.0.113.9, 198.51.100.7" })).status).toBe(303)
  })

  it("the session cookie is Secure when the proxy received https, and not otherwise", async () => {
    const https = await login(api, KEY, { "x-forwarded-for": "198.51.100.30", "x-forwarded-proto": "https" })
    expect(https.status).toBe(303)
    expect(https.headers.get("set-cookie")).toMatch(/;\s*Secure/i)
    const http = await login(api, KEY, { "x-forwarded-for": "198.51.100.31", "x-forwarded-proto": "http" })
    expect(http.status).toBe(303)
    expect(http.headers.get("set-cookie")).not.toMatch(/Secure/i)
  })
})

describe("admin forms and headers", () => {
  let api: ApiServer
  let session = ""
  beforeAll(async () => {
    api = await startApi({ api: { trustProxy: 0 } })
    session = await api.session()
  })
  afterAll(async () => {
    await api?.close()
  })

  it("a cross-site sign-in or action is refused with 403 (also without Origin), the same from this site works", async () => {
    expect((await login(api, KEY, { origin: "https://evil.example" })).status).toBe(403)
    const action = (headers: Record<string, string>) =>
      fetch(`${api.base}/admin/actions/replenish`, {
        method: "POST",
        headers: { cookie: session, ...headers },
        body: new URLSearchParams({ count: "1" }),
      })
    expect((await action({ origin: "https://evil.example" })).status).toBe(403)
    expect((await action({ "sec-fetch-site": "cross-site" })).status).toBe(403)
    expect((await action({})).status).toBe(403)
    const ok = await action({ origin: api.base })
    expect(ok.status).toBe(200)
    expect(await ok.text()).toContain("Started 1 instance")
  })

  it("every response carries the security headers and a strict CSP; the admin pages hold no script or inline style", async () => {
    for (const [path, cookie] of [
      ["/admin", ""],
      ["/admin", session],
      ["/admin/assets/admin.css", ""],
      ["/api/pool/counts", ""],
      ["/healthz", ""],
      ["/api/nothing", ""],
    ] as const) {
      const r = await fetch(`${api.base}${path}`, { headers: cookie ? { cookie } : {} })
      const csp = r.headers.get("content-security-policy") ?? ""
      expect(csp, path).toContain("default-src 'none'")
      expect(csp, path).toContain("style-src 'self'")
      expect(csp, path).not.toContain("unsafe-inline")
      expect(r.headers.get("x-content-type-options"), path).toBe("nosniff")
      expect(r.headers.get("x-frame-options"), path).toBe("SAMEORIGIN")
      const text = await r.text()
      if ((r.headers.get("content-type") ?? "").includes("text/html")) {
        expect(text, path).not.toMatch(/<script|<style|\sstyle="/i)
        expect(text, path).toContain('<link rel="stylesheet" href="/admin/assets/admin.css"/>')
      }
    }
  })
})
