import { ManagedRuntime } from "effect"
import { TestClock } from "effect/testing"
import { afterAll, describe, expect, it } from "vitest"
import { makeApiApp } from "../index.ts"

// Admin sessions expire on the runtime's Clock (not the machine's), so a test moves 24 hours with TestClock: the
// session cookie the sign-in set opens /metrics until the Clock reaches its expiry, and not after.

const KEY = "clock-test-key-0123456789"
const runtime = ManagedRuntime.make(TestClock.layer())
afterAll(() => runtime.dispose())

describe("admin session on the Clock", () => {
  it("a signed-in session ends when TestClock passes 24 hours, not before", async () => {
    const app = makeApiApp(runtime, { apiKey: KEY, sessionSecret: "clock-test-secret", trustProxy: 0 })
    const login = await app.request("/admin/login", {
      method: "POST",
      headers: { origin: "http://localhost" },
      body: new URLSearchParams({ key: KEY }),
    })
    expect(login.status).toBe(303)
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!
    const metrics = () => app.request("/metrics", { headers: { cookie } })
    expect((await metrics()).status).toBe(200)
    await runtime.runPromise(TestClock.adjust("23 hours"))
    expect((await metrics()).status, "still valid before 24 hours").toBe(200)
    await runtime.runPromise(TestClock.adjust("1 hour"))
    const expired = await metrics()
    expect(expired.status, "expired at 24 hours on the Clock").toBe(401)
    expect((await expired.json()).error).toContain("Missing API key")
  })
})
