import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { fakeApi } from "../http/testing.ts"
import { type FakePage, notionApi, notionKey } from "./fake.ts"
import { NotionPrompts, NotionPromptsLive, notionPromptsLayer } from "./NotionPrompts.ts"

// The Notion prompt source against a loopback server that answers like Notion's API (./fake.ts): blocks become plain
// text, every level is paged through, requests carry the integration secret and Notion-Version, and a page is read
// from Notion at most once an hour.

const PAGE = "0f6c2c4b8a1e4d2f9b7a3c5d6e7f8091"
const page: FakePage = {
  title: "Trip Planner prompt",
  blocks: [
    { type: "heading_1", text: "Role" },
    { type: "paragraph", text: "You plan trips for a group." },
    { type: "heading_2", text: "Steps" },
    { type: "numbered_list_item", text: "Ask for dates" },
    {
      type: "numbered_list_item",
      text: "Ask for a budget",
      children: [{ type: "bulleted_list_item", text: "per person" }],
    },
    { type: "bulleted_list_item", text: "Keep a list of decisions" },
    { type: "to_do", text: "Book nothing without asking", extra: { checked: false } },
    {
      type: "toggle",
      text: "Tone",
      children: [
        { type: "paragraph", text: "Warm and brief." },
        { type: "quote", text: "Less is more." },
      ],
    },
    { type: "code", text: "Day 1: arrive\nDay 2: explore", extra: { language: "plain text" } },
    { type: "image", text: "ignored" },
    { type: "divider" },
    { type: "heading_3", text: "End" },
  ],
}
const expected = [
  "# Role",
  "",
  "You plan trips for a group.",
  "",
  "## Steps",
  "",
  "1. Ask for dates",
  "2. Ask for a budget",
  "  - per person",
  "- Keep a list of decisions",
  "[ ] Book nothing without asking",
  "",
  "Tone",
  "  Warm and brief.",
  "",
  "  > Less is more.",
  "",
  "```plain text",
  "Day 1: arrive",
  "Day 2: explore",
  "```",
  "",
  "---",
  "",
  "### End",
].join("\n")

const service = (url: string, apiKey = notionKey) =>
  Effect.provide(
    Effect.service(NotionPrompts),
    notionPromptsLayer({
      apiKey: Redacted.make(apiKey),
      baseUrl: url,
      retry: { maxRetries: 1, initialRetryDelayMs: 5 },
    }),
  )

describe("NotionPrompts", () => {
  it.effect(
    "a page's blocks become plain text (headings, lists, paragraphs, toggles, code), following every cursor",
    () =>
      Effect.gen(function* () {
        const api = yield* fakeApi(notionApi({ [PAGE]: page }, { pageSize: 3 }).handle)
        const notion = yield* service(api.url)
        const got = yield* notion.prompt(PAGE)
        expect(got).toEqual({ pageId: PAGE, name: "Trip Planner prompt", prompt: expected })
        // 12 top-level blocks in pages of 3 (4 requests), the list item's and the toggle's children, and the page.
        const paths = api.requests.map((r) => new URL(r.path, "http://x").pathname)
        expect(paths.filter((p) => p === `/v1/blocks/${PAGE}/children`)).toHaveLength(4)
        expect(paths.filter((p) => p.endsWith("/children"))).toHaveLength(6)
        expect(paths).toContain(`/v1/pages/${PAGE}`)
        for (const r of api.requests) {
          expect(r.method).toBe("GET")
          expect(r.headers.authorization).toBe(`Bearer ${notionKey}`)
          expect(r.headers["notion-version"]).toMatch(/^\d{4}-\d{2}-\d{2}$/)
        }
        // A cursor is sent back on the next request of its level.
        expect(api.requests.filter((r) => r.path.includes("start_cursor=")).length).toBe(3)
      }).pipe(Effect.scoped),
  )

  it.effect("served from memory for an hour (by Clock), then read again; a dashed id is the same page", () =>
    Effect.gen(function* () {
      const api = yield* fakeApi(notionApi({ [PAGE]: page }).handle)
      const notion = yield* service(api.url)
      yield* notion.prompt(PAGE)
      const afterFirst = api.requests.length
      const dashed = `${PAGE.slice(0, 8)}-${PAGE.slice(8, 12)}-${PAGE.slice(12, 16)}-${PAGE.slice(16, 20)}-${PAGE.slice(20)}`
      yield* notion.prompt(dashed.toUpperCase())
      yield* TestClock.adjust("59 minutes")
      yield* notion.prompt(PAGE)
      expect(api.requests.length).toBe(afterFirst)
      yield* TestClock.adjust("2 minutes")
      expect((yield* notion.prompt(PAGE)).prompt).toBe(expected)
      expect(api.requests.length).toBe(afterFirst * 2)
    }).pipe(Effect.scoped),
  )

  it.effect("a refused key, a missing page and a bad id fail with what to do; a failure is not kept", () =>
    Effect.gen(function* () {
      const api = yield* fakeApi(notionApi({ [PAGE]: page }).handle)
      const wrong = yield* service(api.url, "ntn_wrong")
      const refused = yield* Effect.flip(wrong.prompt(PAGE))
      expect(refused).toMatchObject({ _tag: "ProviderError", provider: "Notion", status: 401 })
      expect(refused.message).toContain("NOTION_API_KEY")
      const notion = yield* service(api.url)
      const missing = yield* Effect.flip(notion.prompt("a".repeat(32)))
      expect(missing).toMatchObject({ _tag: "ProviderError", status: 404 })
      expect(missing.message).toContain("share the page with the integration")
      const before = api.requests.length
      const bad = yield* Effect.flip(notion.prompt("not-a-page"))
      expect(bad).toMatchObject({ _tag: "InvalidRequest", field: "pageId" })
      expect(api.requests.length).toBe(before) // a bad id never reaches Notion
      // Notion answers 429 once: the client waits (Retry-After) and the read succeeds; a failed read is asked again.
      let throttled = 1
      const fake = notionApi({ [PAGE]: page })
      const flaky = yield* fakeApi((r) =>
        throttled-- > 0 ? fake.error(429, "rate_limited", "Rate limited", { "retry-after": "0" }) : fake.handle(r),
      )
      expect((yield* (yield* service(flaky.url)).prompt(PAGE)).name).toBe("Trip Planner prompt")
      expect(flaky.requests[0]!.path).toBe(flaky.requests[1]!.path)
      const down = yield* fakeApi(() => fake.error(503, "service_unavailable", "Notion is unavailable."))
      const downService = yield* service(down.url)
      expect(Exit.isFailure(yield* Effect.exit(downService.prompt(PAGE)))).toBe(true)
      const asked = down.requests.length
      down.setHandler(fake.handle)
      expect((yield* downService.prompt(PAGE)).prompt).toBe(expected)
      expect(down.requests.length).toBeGreaterThan(asked)
    }).pipe(Effect.scoped),
  )

  it.effect("without NOTION_API_KEY: NotConfigured naming the variable, and nothing is asked", () =>
    Effect.gen(function* () {
      const notion = yield* Effect.provide(
        Effect.service(NotionPrompts),
        NotionPromptsLive.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({})))),
      )
      const e = yield* Effect.flip(notion.prompt(PAGE))
      expect(e).toMatchObject({ _tag: "NotConfigured", variable: "NOTION_API_KEY" })
      expect(e.message).toContain("NOTION_API_KEY")
    }),
  )
})
