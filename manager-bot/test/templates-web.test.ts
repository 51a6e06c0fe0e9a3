import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { botTestLayer, botWithProvidersTestLayer, openManagerChat } from "./helpers.ts"

// The bot's /templates lists each template's skills, and `web` only where agents can search the web: with OpenRouter
// configured (every agent gets its own key, and search goes through OpenRouter with it), and not without it.

/** A template's entry: its line, and the "skills:" line under it when it has skills. */
const line = (listing: string, slug: string) => {
  const lines = listing.split("\n")
  const at = lines.findIndex((l) => l.includes(` ${slug} — `))
  if (at < 0) return ""
  const next = lines[at + 1] ?? ""
  return next.trim().startsWith("skills:") ? `${lines[at]}\n${next}` : lines[at]!
}
const skillsOf = (listing: string, slug: string) => /skills: (.*)$/m.exec(line(listing, slug))?.[1]?.split(", ") ?? []

layer(botWithProvidersTestLayer(), { timeout: "120 seconds", excludeTestServices: true })(
  "manager bot /templates with OpenRouter",
  (it) => {
    it.effect("a template tagged web lists web among its skills", () =>
      Effect.gen(function* () {
        const ada = yield* openManagerChat("Ada")
        const [listing] = yield* ada.say("/templates")
        assert.include(skillsOf(listing!, "research-assistant"), "web")
        assert.include(skillsOf(listing!, "trip-planner"), "web")
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
        assert.notMatch(listing!, /skills:[^\n]*\bweb\b/)
      }),
    )
  },
)
