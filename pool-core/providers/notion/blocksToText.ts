// A Notion page's blocks as the plain text an agent reads as its instructions (the seed's "markdown-ish" flattening):
// headings become #-lines, list items "- " / "1. " / "[ ] ", toggles their summary with the hidden content indented
// under it, code a fenced block, quotes and callouts "> ". Block types that carry no text for a prompt (images,
// embeds, tables of contents, databases) are left out rather than guessed at.

/** The parts of a Notion rich text item this reads (RichTextItemResponse). */
export interface RichText {
  readonly plain_text: string
}

/** One block as Notion's API returns it: its type names the property that holds its content. */
export interface NotionBlock {
  readonly id: string
  readonly type: string
  readonly has_children: boolean
  readonly [content: string]: unknown
}

/** A block with its children (fetched separately: Notion returns one level per request). */
export interface BlockTree {
  readonly block: NotionBlock
  readonly children: ReadonlyArray<BlockTree>
}

const textOf = (block: NotionBlock): string => {
  const content = block[block.type] as { rich_text?: ReadonlyArray<RichText>; title?: string } | undefined
  if (content?.rich_text) return content.rich_text.map((t) => t.plain_text).join("")
  return typeof content?.title === "string" ? content.title : ""
}

const indent = (text: string, by: string) =>
  text
    .split("\n")
    .map((line) => (line === "" ? line : by + line))
    .join("\n")

/** One block's own lines, without its children. `number` is its position in a run of numbered items. */
const blockLines = (block: NotionBlock, number: number): string | null => {
  const text = textOf(block)
  switch (block.type) {
    case "heading_1":
      return `# ${text}`
    case "heading_2":
      return `## ${text}`
    case "heading_3":
      return `### ${text}`
    case "paragraph":
      return text
    case "bulleted_list_item":
      return `- ${text}`
    case "numbered_list_item":
      return `${number}. ${text}`
    case "to_do":
      return `[${(block.to_do as { checked?: boolean } | undefined)?.checked ? "x" : " "}] ${text}`
    case "toggle":
      return text
    case "quote":
    case "callout":
      return indent(text, "> ")
    case "code":
      return `\`\`\`${(block.code as { language?: string } | undefined)?.language ?? ""}\n${text}\n\`\`\``
    case "divider":
      return "---"
    case "child_page":
      return `## ${text}`
    default:
      return null
  }
}

/** Children are indented under list items and toggles (they belong to them); other blocks' children follow as is. */
const nests = (type: string) =>
  type === "bulleted_list_item" ||
  type === "numbered_list_item" ||
  type === "to_do" ||
  type === "toggle" ||
  /^heading_\d$/.test(type)

const isListItem = (type: string) => type === "bulleted_list_item" || type === "numbered_list_item" || type === "to_do"

/** The blocks as plain text: list items on consecutive lines, every other block separated by a blank line. */
export const blocksToText = (trees: ReadonlyArray<BlockTree>): string => {
  const parts: Array<{ text: string; list: boolean }> = []
  let number = 0
  for (const { block, children } of trees) {
    number = block.type === "numbered_list_item" ? number + 1 : 0
    const own = blockLines(block, number)
    const inner = children.length > 0 ? blocksToText(children) : ""
    if (own === null && inner === "") continue
    const text =
      own === null
        ? inner
        : inner === ""
          ? own
          : nests(block.type)
            ? `${own}\n${indent(inner, "  ")}`
            : `${own}\n\n${inner}`
    parts.push({ text, list: isListItem(block.type) })
  }
  return parts
    .map((p, i) => (i === 0 ? p.text : `${p.list && parts[i - 1]!.list ? "\n" : "\n\n"}${p.text}`))
    .join("")
    .trim()
}
