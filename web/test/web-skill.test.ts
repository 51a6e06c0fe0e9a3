import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startHarness, type Harness } from "./harness.ts"
import { Visitor } from "./http.ts"

// The `web` skill tag is shown only where agents can search the web (each agent gets its own OpenRouter key, and
// search goes through OpenRouter with it): on a deployment without OpenRouter the catalog does not promise it.

const WEB_TAG = /<li class="tag">web<\/li>/

describe.each([
  { webSearch: true, shown: true },
  { webSearch: false, shown: false },
])("web catalog, agents can search the web: $webSearch", ({ webSearch, shown }) => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ idle: 0, webSearch })
  })
  afterAll(async () => {
    await h?.stop()
  })

  it(`the home page and the page of a template tagged web ${shown ? "show" : "do not show"} the web tag`, async () => {
    const v = new Visitor(h.url)
    const home = await v.get("/")
    expect(home.status).toBe(200)
    expect(home.text).toContain("Research Assistant")
    const page = await v.get("/t/research-assistant")
    expect(page.status).toBe(200)
    expect(page.text).toContain("Research Assistant")
    for (const text of [home.text, page.text]) expect(WEB_TAG.test(text)).toBe(shown)
  })
})
