import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { generateIdentity, Messaging } from "@convos-agents/messaging"
import {
  createInviteSlug,
  encodeMetadata,
  inviteUrlBase,
  randomTag,
  serveJoinRequests,
} from "@convos-agents/messaging/convos"
import { greetingOf } from "./fixtures/devnetAgents.ts"
import { MANAGER_GREETING, startHarness, type Harness } from "./harness.ts"
import { PNG } from "pngjs"
import { hrefOf, metaContent, unescapeHtml, Visitor } from "./http.ts"

// Every page over real HTTP on 127.0.0.1 against a real devnet and a pool of devnet agents.

const names = ["Research Assistant", "Trip Planner", "Meal Planner"]

/** Opens the manager invite in the browser chat view and waits for the bot's greeting there. */
const expectManagerChatGreets = async (url: string, managerInvite: string) => {
  const v = new Visitor(url)
  const joined = await v.get(`/chat?invite=${encodeURIComponent(managerInvite)}`)
  expect(joined.status).toBe(303)
  const c = new URL(joined.location!, url).searchParams.get("c")!
  let messages = ""
  for (let i = 0; i < 50 && !messages.includes(MANAGER_GREETING); i++) {
    messages = (await v.get(`/chat/messages?c=${encodeURIComponent(c)}`)).text
    await new Promise((r) => setTimeout(r, 100))
  }
  expect(messages).toContain(MANAGER_GREETING)
}

describe("web catalog on devnet", () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ idle: 3, rateLimit: { max: 100, windowMs: 60_000 } })
  })
  afterAll(async () => {
    await h?.stop()
  })

  it("home shows the manager invite as QR + link and every template with category pills and skills", async () => {
    const r = await new Visitor(h.url).get("/")
    expect(r.status).toBe(200)
    expect(r.text).toContain('aria-label="QR code"')
    expect(unescapeHtml(r.text)).toContain(`href="${h.managerInvite}">Chat with the manager</a>`)
    for (const n of names) expect(r.text).toContain(n)
    expect(r.text).toContain('href="/?category=Life"')
    expect(r.text).toMatch(/<li class="tag">web<\/li>/)
    expect(r.text).toContain('action="/join"')
  })

  it("a category pill filters the grid, and an unknown category is a 404 that lists the real ones", async () => {
    const v = new Visitor(h.url)
    const life = await v.get("/?category=Life")
    expect(life.status).toBe(200)
    expect(life.text).toContain("Trip Planner")
    expect(life.text).not.toContain("Research Assistant")
    expect(life.text).toMatch(/href="\/\?category=Life" aria-current="page"/)
    const none = await v.get("/?category=Nope")
    expect(none.status).toBe(404)
    expect(none.text).toContain("Pick one of: ")
  })

  it("template page: description, skills, manager QR with the /new hint, Open Graph meta and image", async () => {
    const v = new Visitor(h.url)
    const r = await v.get("/t/trip-planner")
    expect(r.status).toBe(200)
    expect(r.text).toContain("Plans trips for a group")
    expect(r.text).toContain("send /new trip-planner")
    expect(r.text).toContain('<meta property="og:title" content="Trip Planner · Convos agents"/>')
    expect(r.text).toContain('<meta property="og:image:type" content="image/png"/>')
    expect(r.text).toContain('<meta property="og:image:width" content="1200"/>')
    expect(r.text).toContain('<meta property="og:image:height" content="630"/>')
    expect(r.text).toContain('<meta name="twitter:card" content="summary_large_image"/>')
    expect(r.text).toContain('action="/t/trip-planner/launch"')
    // The image a link-preview crawler fetches: the absolute URL from the page's meta, with no cookies.
    const ogUrl = metaContent(r.text, "og:image")
    expect(ogUrl).toBe(`${h.url}/t/trip-planner/og.png`)
    const og = await fetch(ogUrl!)
    expect(og.status).toBe(200)
    expect(og.headers.get("content-type")).toBe("image/png")
    expect(og.headers.get("cache-control")).toMatch(/max-age=\d+/)
    const bytes = Buffer.from(await og.arrayBuffer())
    expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    expect(bytes.toString("latin1", 12, 16)).toBe("IHDR")
    expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([1200, 630])
    // Not blank: the name band (dark text) and the "Convos agents" line (blue text) have ink.
    const { data } = PNG.sync.read(bytes)
    const count = (x0: number, x1: number, y0: number, y1: number, match: (rgb: Buffer) => boolean) => {
      let n = 0
      for (let y = y0; y < y1; y++)
        for (let x = x0; x < x1; x++) if (match(data.subarray((y * 1200 + x) * 4, (y * 1200 + x) * 4 + 3))) n++
      return n
    }
    expect(count(100, 1104, 190, 275, ([r, g, b]) => r! < 80 && g! < 80 && b! < 80)).toBeGreaterThan(3000)
    expect(count(100, 600, 100, 150, ([r, , b]) => b! > 150 && r! < 80)).toBeGreaterThan(500)
    // A second fetch is the same image (from the in-memory cache).
    expect(Buffer.from(await (await fetch(ogUrl!)).arrayBuffer()).equals(bytes)).toBe(true)
    const start = await v.get("/start/trip-planner")
    expect(start.status).toBe(200)
    expect(start.text).toContain("send /new trip-planner")
    expect(start.text).toContain('aria-label="QR code"')
  })

  it("unknown and malformed template addresses answer 404 / 400 pages that say what to do", async () => {
    const v = new Visitor(h.url)
    const missing = await v.get("/t/no-such-template")
    expect(missing.status).toBe(404)
    expect(missing.text).toContain("Pick one from the catalog")
    const bad = await v.get("/t/Bad_Slug")
    expect(bad.status).toBe(400)
    expect(bad.text).toContain("lowercase letters")
    const noImage = await v.get("/t/no-such-template/og.png")
    expect(noImage.status).toBe(404)
    expect(noImage.text).toContain("Template not found")
    expect((await v.get("/t/Bad_Slug/og.png")).status).toBe(400)
    const nowhere = await v.get("/nowhere")
    expect(nowhere.status).toBe(404)
    expect(nowhere.text).toContain("Pick a template")
  })

  it("launch claims an agent and shows its invite (QR + link) only to the visitor who launched it", async () => {
    const v = new Visitor(h.url)
    const launched = await v.post("/t/meal-planner/launch", { nonce: "launch-test-0001" })
    expect(launched.status).toBe(303)
    expect(launched.location).toMatch(/^\/a\//)
    const page = await v.get(launched.location!)
    expect(page.status).toBe(200)
    const invite = hrefOf(page.text, "agent-invite")
    expect(invite).toMatch(new RegExp(`^${h.url}/v2\\?i=`))
    expect(page.text).toContain('aria-label="QR code"')
    expect(hrefOf(page.text, "open-chat")).toBe(`/chat?invite=${encodeURIComponent(invite!)}`)
    // The same form token again is the same claim (a double submit), not a second agent.
    const again = await v.post("/t/meal-planner/launch", { nonce: "launch-test-0001" })
    expect(again.location).toBe(launched.location)
    const stranger = await new Visitor(h.url).get(launched.location!)
    expect(stranger.status).toBe(404)
  })

  it("the devnet chat view joins by invite, shows the agent's greeting by name, and sends messages", async () => {
    const v = new Visitor(h.url)
    const launched = await v.post("/t/research-assistant/launch", { nonce: "launch-test-0002" })
    const invite = hrefOf((await v.get(launched.location!)).text, "agent-invite")!
    const viaInvite = await v.get(new URL(invite).pathname + new URL(invite).search)
    expect(viaInvite.status).toBe(302)
    expect(viaInvite.location).toBe(`/chat?invite=${encodeURIComponent(invite)}`)
    const joined = await v.get(viaInvite.location!)
    expect(joined.status).toBe(303)
    const chat = await v.get(joined.location!)
    expect(chat.status).toBe(200)
    expect(chat.text).toContain("<h1>Research Assistant</h1>")
    const c = new URL(joined.location!, h.url).searchParams.get("c")!
    let messages = ""
    for (let i = 0; i < 50 && !unescapeHtml(messages).includes(greetingOf("Research Assistant")); i++) {
      messages = (await v.get(`/chat/messages?c=${encodeURIComponent(c)}`)).text
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(messages).toContain('data-sender="Research Assistant"')
    expect(unescapeHtml(messages)).toContain(greetingOf("Research Assistant"))
    const sent = await v.post("/chat/send", { c, text: "hello from the browser" })
    expect(sent.status).toBe(303)
    const after = await v.get(`/chat/messages?c=${encodeURIComponent(c)}`)
    expect(after.text).toMatch(
      /data-sender="You"><span class="who">You<\/span><span class="text">hello from the browser<\/span>/,
    )
    // Someone else (no cookie) is not in that conversation.
    const stranger = await new Visitor(h.url).get(`/chat?c=${encodeURIComponent(c)}`)
    expect(stranger.status).toBe(403)
    expect(stranger.text).toContain("open its invite link first")
  })

  it("the manager invite opens the manager chat in the browser", async () => {
    await expectManagerChatGreets(h.url, h.managerInvite)
  })

  it("chat errors: a bad invite is a 400, no conversation is a 400, an invite without code is a 400", async () => {
    const v = new Visitor(h.url)
    const bad = await v.get(`/chat?invite=${encodeURIComponent("https://example.com/nothing")}`)
    expect(bad.status).toBe(400)
    expect(bad.text).toContain("not a Convos invite link")
    expect((await v.get("/chat")).status).toBe(400)
    expect((await v.get("/v2")).status).toBe(400)
    const empty = await v.post("/chat/send", { c: "x", text: "" })
    expect(empty.status).toBe(400)
  })

  it("join my conversation: a link that is no invite, or a malformed one, is a 400 that says why; a real invite sends an agent that greets the group", async () => {
    const v = new Visitor(h.url)
    const notUrl = await v.post("/join", { invite: "hello there", template: "trip-planner", nonce: "join-bad-00001" })
    expect(notUrl.status).toBe(400)
    expect(notUrl.text).toContain("That is not a usable invite link")
    expect(notUrl.text).toContain('href="/t/trip-planner"')
    const malformed = await v.post("/join", {
      invite: `${inviteUrlBase("dev")}${"A".repeat(80)}`,
      nonce: "join-bad-00002",
    })
    expect(malformed.status).toBe(400)

    // A person's own conversation on the devnet, whose creator device lets joiners in (alive until the test ends).
    const scope = await Effect.runPromise(Scope.make())
    try {
      const person = await h.run(
        Effect.gen(function* () {
          const messaging = yield* Messaging
          const me = generateIdentity()
          const client = yield* messaging.connect(me, { label: "person" })
          const tag = randomTag()
          const group = yield* client.createGroup([], { name: "Friends", appData: encodeMetadata({ tag }) })
          yield* Effect.forkIn(serveJoinRequests(client, me), scope)
          const url = `${inviteUrlBase("dev")}${createInviteSlug(me, { conversationId: group.id, tag, name: "Friends" })}`
          return { url, texts: client.messages(group.id).pipe(Effect.map((ms) => ms.map((m) => m.text))) }
        }).pipe(Scope.provide(scope)),
      )
      const joined = await v.post("/join", { invite: person.url, template: "trip-planner", nonce: "join-test-00001" })
      expect(joined.status).toBe(303)
      const page = await v.get(joined.location!)
      expect(page.status).toBe(200)
      expect(page.text).toContain("is joining your conversation")
      expect(hrefOf(page.text, "open-chat")).toBe(`/chat?invite=${encodeURIComponent(person.url)}`)
      // The agent really is in the person's group: its greeting arrived there.
      expect(await h.run(person.texts)).toContain(greetingOf("Trip Planner"))
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })

  it("with no idle agent, launch answers 503 saying to try again", async () => {
    const drained = await h.run(Pool.use((p) => p.counts).pipe(Effect.map((c) => c.idle)))
    const v = new Visitor(h.url)
    for (let i = 0; i < drained; i++) await v.post("/t/trip-planner/launch", { nonce: `drain-test-000${i}` })
    const r = await new Visitor(h.url).post("/t/trip-planner/launch", { nonce: "empty-pool-0001" })
    expect(r.status).toBe(503)
    expect(r.text).toContain("Try again in a minute")
  })
})

describe("web catalog off devnet, with a tight rate limit", () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ network: "dev", idle: 3, rateLimit: { max: 2, windowMs: 60_000 } })
  })
  afterAll(async () => {
    await h?.stop()
  })

  it("launches are limited per visitor and per IP: the third answers 429 with Retry-After and when to retry", async () => {
    const v = new Visitor(h.url)
    expect((await v.post("/t/trip-planner/launch", { nonce: "rate-limit-0001" })).status).toBe(303)
    expect((await v.post("/t/trip-planner/launch", { nonce: "rate-limit-0002" })).status).toBe(303)
    const limited = await v.post("/t/trip-planner/launch", { nonce: "rate-limit-0003" })
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0)
    expect(limited.text).toMatch(/Try again in 1 minute\./)
    // A new cookie from the same address is still limited (the IP counts too), and joins count as claims.
    const fresh = new Visitor(h.url)
    expect((await fresh.post("/t/trip-planner/launch", { nonce: "rate-limit-0004" })).status).toBe(429)
    // Input errors are answered before the limit (they claim nothing).
    expect((await fresh.post("/join", { invite: "not a link", nonce: "join-bad-00003" })).status).toBe(400)
    // The limited attempts claimed nothing: one idle agent is left.
    expect(await h.run(Pool.use((p) => p.counts).pipe(Effect.map((c) => c.idle)))).toBe(1)
  })

  it("there is no browser chat and no /v2 invite redirect off devnet (404 saying to use the app)", async () => {
    const v = new Visitor(h.url)
    for (const path of ["/chat?c=abc", "/v2?i=abc", "/chat/messages?c=abc"]) {
      const r = await v.get(path)
      expect(r.status).toBe(404)
      expect(r.text).toContain("Open the invite link with the Convos app")
    }
    const home = await v.get("/")
    expect(home.text).not.toContain("in this browser (devnet)")
  })
})

describe("web catalog mounted like server/src/http.ts ({ runtime, bot } under a parent app)", () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ mount: "runtime", idle: 1 })
  })
  afterAll(async () => {
    await h?.stop()
  })

  it("template pages use the bot's per-template invite; unknown pages get the 404 page, the API keeps its own routes", async () => {
    const v = new Visitor(h.url)
    const home = await v.get("/")
    expect(home.status).toBe(200)
    expect(unescapeHtml(home.text)).toContain(`href="${h.managerInvite}">Chat with the manager</a>`)
    const t = await v.get("/t/trip-planner")
    expect(unescapeHtml(t.text)).toContain(`href="${h.managerInvite}&template=trip-planner">Chat with the manager</a>`)
    expect(t.text).toContain("The manager opens with Trip Planner selected.")
    const missing = await v.get("/no/such/page")
    expect(missing.status).toBe(404)
    expect(missing.text).toContain("Pick a template from the catalog")
    expect((await v.get("/api/ping")).status).toBe(200)
    expect((await v.get("/api/nothing")).text).not.toContain("Pick a template")
  })

  it("the devnet chat works from the runtime mount too (manager invite → greeting)", async () => {
    await expectManagerChatGreets(h.url, h.managerInvite)
  })
})
