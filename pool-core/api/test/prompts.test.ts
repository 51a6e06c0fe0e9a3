import { ConfigProvider, Effect, Exit, Layer, ManagedRuntime, Redacted, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Pool } from "../../pool/Pool.ts"
import { PoolTest } from "../../pool/testing.ts"
import { type FakeApi, fakeApi } from "../../providers/http/testing.ts"
import { type FakePage, notionApi, notionKey } from "../../providers/notion/fake.ts"
import { NotionPromptsLive, notionPromptsLayer } from "../../providers/notion/NotionPrompts.ts"
import { KEY, serveApi } from "./server.ts"

// GET /api/prompts/:pageId and templates whose instructions live on a Notion page, over real HTTP against a loopback
// server that answers like Notion's API (providers/notion/fake.ts).

const PAGE = "7d1c2b3a4f5e4d6c8b9a0f1e2d3c4b5a"
const GONE = "0123456789abcdef0123456789abcdef"
const pages: Record<string, FakePage> = {
  [PAGE]: {
    title: "Trip Planner (Notion)",
    blocks: [
      { type: "heading_2", text: "Who you are" },
      { type: "paragraph", text: "You plan trips from Notion." },
      { type: "bulleted_list_item", text: "Ask for dates" },
      { type: "toggle", text: "Rules", children: [{ type: "paragraph", text: "Never book without asking." }] },
    ],
  },
}
const promptText =
  "## Who you are\n\nYou plan trips from Notion.\n\n- Ask for dates\n\nRules\n  Never book without asking."

const scope = Effect.runSync(Scope.make())
let notion: FakeApi
let runtime: ManagedRuntime.ManagedRuntime<any, any>
let base = ""
let close = async () => {}
const auth = { authorization: `Bearer ${KEY}`, "content-type": "application/json", "idempotency-key": "" }

beforeAll(async () => {
  notion = await Effect.runPromise(fakeApi(notionApi(pages, { pageSize: 2 }).handle).pipe(Scope.provide(scope)))
  const notionLayer = notionPromptsLayer({
    apiKey: Redacted.make(notionKey),
    baseUrl: notion.url,
    retry: { maxRetries: 0, initialRetryDelayMs: 1 },
  })
  runtime = ManagedRuntime.make(PoolTest().pipe(Layer.provideMerge(notionLayer)))
  ;({ base, close } = await serveApi(runtime, KEY))
})
afterAll(async () => {
  await close()
  await runtime?.dispose()
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

const run = <A, E>(e: Effect.Effect<A, E, any>) => runtime.runPromise(e)
const notionReads = () => notion.requests.length

const setPage = (slug: string, pageId: string | null) =>
  run(
    Effect.flatMap(
      SqlClient.SqlClient,
      (sql) => sql`UPDATE templates SET notion_page_id = ${pageId} WHERE slug = ${slug}`,
    ),
  )
const keyOnly = { authorization: `Bearer ${KEY}` }

describe("GET /api/prompts/:pageId", () => {
  it("a page the catalog's templates name is public: its title and text, then served from memory", async () => {
    await setPage("trip-planner", PAGE)
    try {
      const res = await fetch(`${base}/api/prompts/${PAGE}`)
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ name: "Trip Planner (Notion)", prompt: promptText })
      const reads = notionReads()
      expect(reads).toBeGreaterThanOrEqual(4) // the page, two pages of blocks, the toggle's children
      expect((await (await fetch(`${base}/api/prompts/${PAGE.toUpperCase()}`)).json()).name).toBe(
        "Trip Planner (Notion)",
      )
      expect(notionReads()).toBe(reads)
    } finally {
      await setPage("trip-planner", null)
    }
  }, 180_000) // the first request builds the route's layers: 40 s on a loaded machine

  it("any other page needs the pool key: a stranger with a page id reads nothing and Notion is not asked", async () => {
    const reads = notionReads()
    for (const headers of [{}, { authorization: "Bearer wrong-key" }] as Array<Record<string, string>>) {
      const res = await fetch(`${base}/api/prompts/${PAGE}`, { headers })
      expect(res.status).toBe(401)
      expect(JSON.stringify(await res.json())).not.toContain("Notion)")
    }
    expect(notionReads()).toBe(reads)
    const withKey = await fetch(`${base}/api/prompts/${PAGE}`, { headers: keyOnly })
    expect(withKey.status).toBe(200)
    expect((await withKey.json()).prompt).toBe(promptText)
  })

  it("400 for what is not a page id, 502 saying to share a page Notion does not show", async () => {
    const bad = await fetch(`${base}/api/prompts/not-a-page`, { headers: keyOnly })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ field: "pageId" })
    const missing = await fetch(`${base}/api/prompts/${GONE}`, { headers: keyOnly })
    expect(missing.status).toBe(502)
    expect((await missing.json()).error).toContain("share the page with the integration")
  })

  it("without NOTION_API_KEY: 503 naming the variable", async () => {
    // The route needs nothing of the pool: a runtime with only the live Notion layer over an empty environment.
    const bare = ManagedRuntime.make(
      NotionPromptsLive.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({})))),
    )
    const server = await serveApi(bare, KEY)
    try {
      const res = await fetch(`${server.base}/api/prompts/${PAGE}`, { headers: keyOnly })
      expect(res.status).toBe(503)
      expect((await res.json()).error).toContain("NOTION_API_KEY")
    } finally {
      await server.close()
      await bare.dispose()
    }
  })
})

describe("a template with a notionPageId", () => {
  const claim = async (body: Record<string, unknown>, key: string) => {
    await run(Effect.flatMap(Pool, (p) => p.replenish(1).pipe(Effect.andThen(p.tick))))
    const res = await fetch(`${base}/api/pool/claim`, {
      method: "POST",
      headers: { ...auth, "idempotency-key": key },
      body: JSON.stringify(body),
    })
    expect(res.status).toBe(200)
    const { instanceId } = await res.json()
    return (await run(Effect.flatMap(Pool, (p) => p.get(instanceId)))).instructions
  }

  it("a claim that keeps the defaults gets the page's text; given instructions win; an unreadable page falls back", async () => {
    await setPage("trip-planner", PAGE)
    const reads = notionReads()
    expect(await claim({ templateSlug: "trip-planner" }, "np-1")).toBe(promptText)
    expect(notionReads()).toBe(reads) // the route above cached it: the claim asked Notion nothing
    expect(await claim({ templateSlug: "trip-planner", instructions: "Mine." }, "np-2")).toBe("Mine.")

    await setPage("meal-planner", GONE)
    const checkedIn = (await run(Effect.flatMap(Pool, (p) => p.template("meal-planner")))).instructions
    expect(await claim({ templateSlug: "meal-planner" }, "np-3")).toBe(checkedIn)
    await setPage("trip-planner", null)
    await setPage("meal-planner", null)
  })
})
