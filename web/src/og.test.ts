import { PNG } from "pngjs"
import { describe, expect, it } from "vitest"
import templates from "../../pool-core/db/templates.json" with { type: "json" }
import { makeOgImages, type OgTemplate } from "./og.ts"

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

/** Pixels in [x0, x1) × [y0, y1) that are not pure white. */
const inked = (png: PNG, x0: number, x1: number, y0: number, y1: number) => {
  let n = 0
  for (let y = y0; y < y1; y++)
    for (let x = x0; x < x1; x++) {
      const i = (y * png.width + x) * 4
      if (png.data[i]! < 250 || png.data[i + 1]! < 250 || png.data[i + 2]! < 250) n++
    }
  return n
}

const extremes: OgTemplate[] = [
  {
    slug: "long-name",
    name: "The Extraordinarily Long-Named Multilingual Research Assistant Deluxe",
    description: "Short.",
    category: "Work",
  },
  { slug: "wide", name: "W".repeat(60), description: "W".repeat(200), category: "M".repeat(80) },
  {
    slug: "url",
    name: "Links",
    description: `See https://example.com/${"a-very-long-path-".repeat(8)} and ${"more words ".repeat(20)}`,
    category: "Life",
  },
]

describe("Open Graph PNG", () => {
  it("is a 1200×630 PNG with the name, description and category drawn inside the card, for every template", async () => {
    const og = makeOgImages()
    for (const t of [...templates, ...extremes]) {
      const bytes = Buffer.from(await og.png(t))
      expect([...bytes.subarray(0, 8)]).toEqual(PNG_SIGNATURE)
      const png = PNG.sync.read(bytes)
      expect([png.width, png.height]).toEqual([1200, 630])
      // Text is there: the name band, the description band and the category pill all have ink.
      expect(inked(png, 100, 1104, 190, 275), `${t.slug}: name`).toBeGreaterThan(2000)
      expect(inked(png, 100, 1104, 310, 470), `${t.slug}: description`).toBeGreaterThan(500)
      expect(inked(png, 100, 1104, 500, 556), `${t.slug}: category`).toBeGreaterThan(1000)
      // ...and none of it runs into the card's right padding (text is measured, not guessed from character counts).
      expect(inked(png, 1108, 1150, 60, 570), `${t.slug}: right padding`).toBe(0)
    }
  })

  it("leaves emoji out instead of drawing a no-glyph box", async () => {
    const og = makeOgImages()
    const plain = await og.png({ slug: "a", name: "Trip Planner", description: "Plans trips.", category: "Life" })
    const emoji = await og.png({
      slug: "b",
      name: "Trip Planner 🧳",
      description: "Plans trips. ✈️",
      category: "Life 🌍",
    })
    expect(Buffer.from(emoji).equals(Buffer.from(plain))).toBe(true)
  })

  it("renders each slug once, again when its text changes, and keeps at most maxEntries images", async () => {
    const og = makeOgImages(2)
    const t = (slug: string, description = "Plans trips.") => ({
      slug,
      name: "Trip Planner",
      description,
      category: "Life",
    })
    const first = await og.png(t("a"))
    expect(await og.png(t("a"))).toBe(first) // the same bytes object: served from memory
    const edited = await og.png(t("a", "Plans trips for a group."))
    expect(edited).not.toBe(first)
    expect(Buffer.from(edited).equals(Buffer.from(first))).toBe(false)
    const b = await og.png(t("b"))
    expect(await og.png(t("a", "Plans trips for a group."))).toBe(edited) // "a" is now the most recently used
    await og.png(t("c")) // evicts "b", the least recently used
    expect(await og.png(t("a", "Plans trips for a group."))).toBe(edited)
    const again = await og.png(t("b"))
    expect(again).not.toBe(b) // rendered anew
    expect(Buffer.from(again).equals(Buffer.from(b))).toBe(true)
  })
})
