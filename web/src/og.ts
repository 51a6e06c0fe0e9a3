import type { Template } from "@convos-agents/pool-core"

// Open Graph preview image (1200×630 SVG): the template's emoji, name and description, for link previews in chats.

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (ch) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[ch]!)

/** Greedy word wrap to at most `maxLines` lines of `width` characters (the last one ends with … when cut). */
const wrap = (text: string, width: number, maxLines: number): string[] => {
  const lines: string[] = []
  let line = ""
  for (const word of text.split(/\s+/)) {
    if ((line + " " + word).trim().length > width) {
      lines.push(line)
      line = word
    } else line = (line + " " + word).trim()
  }
  if (line) lines.push(line)
  if (lines.length <= maxLines) return lines
  const kept = lines.slice(0, maxLines)
  kept[maxLines - 1] = `${kept[maxLines - 1]!.slice(0, width - 1)}…`
  return kept
}

export const ogImageSvg = (t: Template): string => {
  const description = wrap(t.description, 48, 3)
    .map((l, i) => `<text x="80" y="${400 + i * 52}" font-size="40" fill="#444">${escapeXml(l)}</text>`)
    .join("")
  return `<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630" viewBox="0 0 1200 630">
<rect width="1200" height="630" fill="#fafafa"/><rect x="40" y="40" width="1120" height="550" rx="32" fill="#fff" stroke="#e3e3e3" stroke-width="4"/>
<text x="80" y="210" font-size="120">${escapeXml(t.emoji)}</text>
<text x="80" y="320" font-family="system-ui,sans-serif" font-size="72" font-weight="700" fill="#1d1d1f">${escapeXml(t.name)}</text>
<g font-family="system-ui,sans-serif">${description}</g>
<text x="80" y="560" font-family="system-ui,sans-serif" font-size="32" fill="#0a58ca">Convos agents · ${escapeXml(t.category)}</text>
</svg>`
}
