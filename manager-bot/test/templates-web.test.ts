import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { botTestLayer, botWithProvidersTestLayer, openManagerChat } from "./helpers.ts"

// The bot's /templates lists each template's skills, and `web` only where agents can search the web: with OpenRouter
// configured (every agent gets its own key, and search goes through OpenRouter with it), and not without it.

const line = (listing: string, slug: string) => listing.split("\n").find((l) => l.includes(` ${slug} — `)) ?? ""

layer(botWithProvidersTestLayer(), { timeout: "120 seconds", excludeTestServices: true })(
  "manager bot /templates with OpenRouter",
  (it) => {
    it.effect("a template tagged web shows [web]", () =>
      Effect.gen(function* () {
        const ada = yield* openManagerChat("Ada")
        const [listing] = yield* ada.say("/templates")
        assert.include(line(listing!, "research-assistant"), "[web]")
        assert.include(line(listing!, "trip-planner"), "[web]")
      }),
    )
  },
)

layer(botTestLayer(), { timeout: "120 seconds", excludeTestServices: true })(
  "manager bot /templates without OpenRouter",
  (it) => {
    it.effect("no template shows web", () =>
      Effect.gen(function* () {
        const bea = yield* openManagerChat("Bea")
        const [listing] = yield* bea.say("/templates")
        assert.include(line(listing!, "research-assistant"), "Research Assistant")
        assert.notMatch(listing!, /\[[^\]]*\bweb\b/)
      }),
    )
  },
)
