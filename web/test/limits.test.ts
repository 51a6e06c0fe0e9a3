import { Effect, Exit, Scope } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { postChunked } from "@convos-agents/pool-core/testing/chunked"
import { startHarness, type Harness } from "./harness.ts"
import { hrefOf, unescapeHtml, Visitor } from "./http.ts"
import { personConversation } from "./person.ts"

// The web's public forms: body limits enforced while the body streams in, one form token per action on the template
// page, and the devnet chat join rate-limited like launches.

/** The value of the hidden nonce input of the form posting to `action`. */
const nonceOf = (html: string, action: string) => {
  const form = new RegExp(`<form method="post" action="${action}"[^>]*>(.*?)</form>`, "s").exec(html)?.[1] ?? ""
  return /name="nonce" value="([^"]+)"/.exec(form)?.[1] ?? null
}

describe("web forms: body limits and form tokens", () => {
  let h: Harness
  let scope: Scope.Closeable
  beforeAll(async () => {
    h = await startHarness({ idle: 4, rateLimit: { max: 100, windowMs: 60_000 } })
    scope = await Effect.runPromise(Scope.make())
  })
  afterAll(async () => {
    if (scope) await Effect.runPromise(Scope.close(scope, Exit.void))
    await h?.stop()
  })

  it("an endless chunked form post to /join, launch or /chat/send gets a 413 page as soon as the limit is passed", async () => {
    const idle = () => h.run(Pool.use((p) => p.counts).pipe(Effect.map((c) => c.idle)))
    const before = await idle()
    const form = { "content-type": "application/x-www-form-urlencoded", origin: h.url }
    for (const [path, prefix] of [
      ["/join", "invite="],
      ["/t/trip-planner/launch", "nonce="],
      ["/chat/send", "c=x&text="],
    ] as const) {
      const r = await postChunked(`${h.url}${path}`, { headers: form, prefix })
      // Answered long before the 256 MB upload ended (bytes sent, not ms, show it stopped reading early).
      expect(r.status, path).toBe(413)
      expect(r.sent, path).toBeLessThan(32 * 1024 * 1024)
      expect(r.headers.connection, path).toBe("close")
      expect(unescapeHtml(r.body), path).toContain("The form was larger than 64 KB")
    }
    // Nothing was claimed; a body that is not a form is a 415.
    expect(await idle()).toBe(before)
    const wrongType = await fetch(`${h.url}/join`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    })
    expect(wrongType.status).toBe(415)
  })

  it("Launch and Join on the template page carry different tokens; a Join after the Launch is its own claim", async () => {
    const v = new Visitor(h.url)
    const page = (await v.get("/t/trip-planner")).text
    const launchNonce = nonceOf(page, "/t/trip-planner/launch")
    const joinNonce = nonceOf(page, "/join")
    expect(launchNonce).toMatch(/^[A-Za-z0-9_-]{8,64}$/)
    expect(joinNonce).toMatch(/^[A-Za-z0-9_-]{8,64}$/)
    expect(joinNonce).not.toBe(launchNonce)

    const launched = await v.post("/t/trip-planner/launch", { nonce: launchNonce! })
    expect(launched.status).toBe(303)
    // Back on the same (cached) page, the visitor now sends an agent into their own conversation.
    const person = await personConversation(h, scope)
    const joined = await v.post("/join", { invite: person.url, template: "trip-planner", nonce: joinNonce! })
    expect(joined.status).toBe(303)
    expect(joined.location).not.toBe(launched.location)
    const joinedPage = await v.get(joined.location!)
    expect(joinedPage.text).toContain("is joining your conversation")
    expect(hrefOf(joinedPage.text, "open-chat")).toBe(`/chat?invite=${encodeURIComponent(person.url)}`)
    // Even a Join that reuses the Launch's token (an old page) is a new claim, not a replay of that launch.
    const other = await personConversation(h, scope, "Family")
    const reused = await v.post("/join", { invite: other.url, nonce: launchNonce! })
    expect(reused.status).toBe(303)
    expect([launched.location, joined.location]).not.toContain(reused.location)
    expect((await v.get(reused.location!)).text).toContain("is joining your conversation")
    // The same Join token again is still the same join (a double submit).
    expect((await v.post("/join", { invite: person.url, template: "trip-planner", nonce: joinNonce! })).location).toBe(
      joined.location,
    )
  })
})

describe("devnet chat join rate limit", () => {
  let h: Harness
  let scope: Scope.Closeable
  beforeAll(async () => {
    h = await startHarness({ idle: 1, rateLimit: { max: 2, windowMs: 60_000 } })
    scope = await Effect.runPromise(Scope.make())
  })
  afterAll(async () => {
    if (scope) await Effect.runPromise(Scope.close(scope, Exit.void))
    await h?.stop()
  })

  it("the third chat join in the window answers 429 with Retry-After; retries of a counted invite and bad links do not count", async () => {
    const invites = [
      await personConversation(h, scope, "One"),
      await personConversation(h, scope, "Two"),
      await personConversation(h, scope, "Three"),
    ]
    const join = (v: Visitor, url: string) => v.get(`/chat?invite=${encodeURIComponent(url)}`)
    const v = new Visitor(h.url)
    // A bad link is answered first and does not use the quota.
    expect((await join(v, "https://example.com/nothing")).status).toBe(400)
    expect((await join(v, invites[0]!.url)).status).toBe(303)
    // The same invite again (the waiting page reloads itself) is not a new join.
    expect((await join(v, invites[0]!.url)).status).toBe(303)
    expect((await join(v, invites[1]!.url)).status).toBe(303)
    const limited = await join(v, invites[2]!.url)
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0)
    expect(limited.text).toMatch(/You have opened several chats in a short time\. Try again in 1 minute\./)
    // A fresh cookie from the same address is limited too (the IP counts).
    expect((await join(new Visitor(h.url), invites[2]!.url)).status).toBe(429)
    // Launches have their own quota: the chat limit does not block claiming an agent.
    expect((await v.post("/t/trip-planner/launch", { nonce: "after-chat-limit" })).status).toBe(303)
  })
})
