import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { renderAsync, Resvg, type ResvgRenderOptions } from "@resvg/resvg-js"
import type { Template } from "@convos-agents/pool-core"

// Open Graph preview image: a 1200×630 PNG (link previews in iMessage, WhatsApp, Slack, X… do not render SVG) drawn
// from an SVG with resvg. The font ships as an npm package (Inter TTF) and system fonts are not loaded, so the image is
// the same on every machine, including a bare Debian without fonts. Emoji are left out: Inter has no emoji glyphs.

export const OG_WIDTH = 1200
export const OG_HEIGHT = 630

export type OgTemplate = Pick<Template, "slug" | "name" | "description" | "category">

const FONT_FAMILY = "Inter"
let fontFiles: string[] | null = null
/** The Inter TTFs from @expo-google-fonts/inter (its .ttf files are plain files, no bundler needed). */
const fonts = (): string[] => {
  if (fontFiles) return fontFiles
  const dir = dirname(createRequire(import.meta.url).resolve("@expo-google-fonts/inter/package.json"))
  fontFiles = [join(dir, "400Regular", "Inter_400Regular.ttf"), join(dir, "700Bold", "Inter_700Bold.ttf")]
  return fontFiles
}
const options = (): ResvgRenderOptions => ({
  font: { loadSystemFonts: false, fontFiles: fonts(), defaultFontFamily: FONT_FAMILY, sansSerifFamily: FONT_FAMILY },
  logLevel: "off",
})

const escapeXml = (s: string) =>
  s.replace(/[<>&"']/g, (ch) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[ch]!)

/** Drops what Inter cannot draw as anything but a "no glyph" box: emoji, their modifiers, joiners and selectors. */
const printable = (s: string) =>
  s
    .replace(
      // biome-ignore lint/suspicious/noMisleadingCharacterClass: each code point is removed on its own, joiners included
      /[\p{Extended_Pictographic}\p{Emoji_Modifier}\p{Regional_Indicator}\u{FE0F}\u{FE0E}\u{200D}\u{20E3}]/gu,
      "",
    )
    .replace(/\s+/g, " ")
    .trim()

/** Greedy word wrap to at most `maxLines` lines of `width` characters (the last one ends with … when cut). */
const wrap = (text: string, width: number, maxLines: number): string[] => {
  const words = text.split(" ").flatMap((w) => w.match(new RegExp(`.{1,${width}}`, "gu")) ?? []) // over-long words break
  const lines: string[] = []
  let line = ""
  for (const word of words) {
    if (line && `${line} ${word}`.length > width) {
      lines.push(line)
      line = word
    } else line = line ? `${line} ${word}` : word
  }
  if (line) lines.push(line)
  if (lines.length <= maxLines) return lines
  const kept = lines.slice(0, maxLines)
  kept[maxLines - 1] = `${kept[maxLines - 1]!.slice(0, width - 1).trimEnd()}…`
  return kept
}

// Layout: a white card with a blue accent bar; text starts at X and must end by X + MAX_TEXT.
const X = 100
const MAX_TEXT = 1160 - 56 - X
const NAME_SIZE = 84
const MIN_NAME_SIZE = 44
const DESCRIPTION_SIZE = 40
const CATEGORY_SIZE = 30

const nameText = (name: string, size: number) =>
  `<text x="${X}" y="262" font-size="${size}" font-weight="700" fill="#1d1d1f">${escapeXml(name)}</text>`
const descriptionText = (lines: ReadonlyArray<string>) =>
  lines
    .map(
      (l, i) => `<text x="${X}" y="${346 + i * 56}" font-size="${DESCRIPTION_SIZE}" fill="#444">${escapeXml(l)}</text>`,
    )
    .join("")
const categoryText = (category: string) =>
  `<text x="${X + 24}" y="539" font-size="${CATEGORY_SIZE}" font-weight="700" fill="#0a3d8f">${escapeXml(category)}</text>`

/** How far right of X the ink of `body` (SVG text elements) reaches, laid out with the shipped font. */
const inkWidth = (body: string): number => {
  // A canvas wider than any text, so the box is not clipped.
  const box = new Resvg(
    `<svg xmlns="http://www.w3.org/2000/svg" width="20000" height="${OG_HEIGHT}" font-family="${FONT_FAMILY}">${body}</svg>`,
    options(),
  ).getBBox()
  return box ? box.x + box.width - X : 0
}

/** `text`, cut short with … (to the proportion that fits, at least one character each time) until it measures ≤ max. */
const cutToFit = (text: string, measure: (s: string) => number, max: number): string => {
  let chars = [...text]
  let s = text
  for (let width = measure(s); width > max && chars.length > 1; width = measure(s)) {
    chars = chars.slice(0, Math.min(chars.length - 1, Math.floor((chars.length * max) / width)))
    s = `${chars.join("").trimEnd()}…`
  }
  return s
}

/** The name's font size (and the name, cut with … if even the smallest size is too wide) so it fits on one line. */
const fitName = (name: string): { name: string; size: number } => {
  const width = inkWidth(nameText(name, NAME_SIZE))
  if (width <= MAX_TEXT) return { name, size: NAME_SIZE }
  const size = Math.max(MIN_NAME_SIZE, Math.floor((NAME_SIZE * MAX_TEXT) / width))
  return { name: cutToFit(name, (n) => inkWidth(nameText(n, size)), MAX_TEXT), size }
}

/** Up to 3 description lines, re-wrapped narrower until each fits (character counts only estimate width). */
const fitDescription = (description: string): string[] => {
  let chars = 46
  let lines = wrap(description, chars, 3)
  for (let i = 0; i < 8; i++) {
    const over = lines
      .map((l) => ({ length: [...l].length, width: inkWidth(descriptionText([l])) }))
      .filter((l) => l.width > MAX_TEXT)
    if (over.length === 0) break
    // The characters that fit at the widest overflowing line's average glyph width; always at least one fewer.
    chars = Math.max(8, Math.min(chars - 1, ...over.map((l) => Math.floor((l.length * MAX_TEXT) / l.width))))
    lines = wrap(description, chars, 3)
  }
  return lines
}

/** The preview as SVG: "Convos agents", the template's name, description and category (text measured to fit). */
export const ogImageSvg = (t: OgTemplate): string => {
  const name = fitName(printable(t.name) || t.slug)
  const description = fitDescription(printable(t.description))
  // The pill pads its text by 24 on each side (inkWidth counts the left one) and ends by the text margin too.
  const category = cutToFit(printable(t.category), (c) => inkWidth(categoryText(c)), MAX_TEXT - 24)
  const pill = category ? Math.ceil(inkWidth(categoryText(category))) + 24 : 0
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${OG_WIDTH}" height="${OG_HEIGHT}" viewBox="0 0 ${OG_WIDTH} ${OG_HEIGHT}" font-family="${FONT_FAMILY}">
<defs><clipPath id="card"><rect x="40" y="40" width="1120" height="550" rx="32"/></clipPath></defs>
<rect width="${OG_WIDTH}" height="${OG_HEIGHT}" fill="#eef2f8"/>
<rect x="40" y="40" width="1120" height="550" rx="32" fill="#fff" stroke="#dde3ec" stroke-width="4"/>
<rect x="40" y="40" width="20" height="550" fill="#0a58ca" clip-path="url(#card)"/>
<text x="${X}" y="140" font-size="34" font-weight="700" fill="#0a58ca">Convos agents</text>
${nameText(name.name, name.size)}
${descriptionText(description)}
${category ? `<rect x="${X}" y="500" width="${pill}" height="56" rx="28" fill="#e4ecfa"/>${categoryText(category)}` : ""}
</svg>`
}

export interface OgImages {
  /** The template's preview PNG, rendered once per slug and template text, then served from memory. */
  readonly png: (t: OgTemplate) => Promise<Uint8Array<ArrayBuffer>>
}

/** A bounded (least recently used out) in-memory cache of preview PNGs; the catalog has a handful of templates. */
export const makeOgImages = (maxEntries = 64): OgImages => {
  const cache = new Map<string, { readonly key: string; readonly png: Promise<Uint8Array<ArrayBuffer>> }>()
  return {
    png: (t) => {
      // Keyed by the drawn text too, so an edited template gets a new image instead of the stale one.
      const key = JSON.stringify([t.name, t.description, t.category])
      const hit = cache.get(t.slug)
      cache.delete(t.slug)
      if (hit?.key === key) {
        cache.set(t.slug, hit)
        return hit.png
      }
      // renderAsync rasterizes on libuv's thread pool, off the event loop.
      const png = Promise.resolve()
        .then(() => renderAsync(ogImageSvg(t), options()))
        .then((image) => new Uint8Array(image.asPng())) // its own ArrayBuffer: what a Response body takes
      const entry = { key, png }
      cache.set(t.slug, entry)
      // A failed render is not kept: the next request tries again.
      png.catch(() => cache.get(t.slug) === entry && cache.delete(t.slug))
      while (cache.size > maxEntries) cache.delete(cache.keys().next().value!)
      return png
    },
  }
}
