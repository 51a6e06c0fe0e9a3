import { randomUUID } from "node:crypto"
import type { RecordedRequest, Reply } from "../http/testing.ts"

// Loopback stand-in for Notion's API (tests only), answering as Notion's published reference says: every request
// needs `Authorization: Bearer <integration secret>` and a `Notion-Version` header; GET /v1/pages/{id} gives the page
// object, GET /v1/blocks/{id}/children one level of blocks in pages of at most `page_size` (1–100, default 100) with
// `next_cursor` / `has_more`; errors are `{object: "error", status, code, message}`.

export const notionKey = "ntn_test_secret_0123456789"
/** Versions Notion documents (the client's default among them); any other is refused as Notion refuses it. */
const VERSIONS = new Set(["2022-06-28", "2025-09-03"])

const error = (status: number, code: string, message: string, headers?: Record<string, string>): Reply => ({
  status,
  json: { object: "error", status, code, message, request_id: randomUUID() },
  ...(headers ? { headers } : {}),
})

const dashed = (id: string) =>
  id
    .replace(/-/g, "")
    .toLowerCase()
    .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, "$1-$2-$3-$4-$5")

/** A block as the test writes it: a type, its text and (for toggles, list items …) children. */
export interface FakeBlock {
  readonly type: string
  readonly text?: string
  readonly children?: ReadonlyArray<FakeBlock>
  /** Extra fields of the block's content (code: language; to_do: checked). */
  readonly extra?: Record<string, unknown>
}

export interface FakePage {
  readonly title: string
  readonly blocks: ReadonlyArray<FakeBlock>
}

const richText = (text: string) => [
  {
    type: "text",
    text: { content: text, link: null },
    annotations: { bold: false, italic: false, strikethrough: false, underline: false, code: false, color: "default" },
    plain_text: text,
    href: null,
  },
]

/**
 * Notion's API over `pages` (page id → page). `pageSize` is the most blocks the fake puts in one answer (Notion
 * "may contain fewer than page_size"): small values make every client follow the cursor.
 */
export const notionApi = (pages: Record<string, FakePage>, options: { readonly pageSize?: number } = {}) => {
  const blocks = new Map<string, { parent: string; block: Record<string, unknown> }[]>()
  const add = (parent: string, list: ReadonlyArray<FakeBlock>) => {
    blocks.set(
      parent,
      list.map((b) => {
        const id = randomUUID()
        if (b.children) add(id.replace(/-/g, ""), b.children)
        const content =
          b.type === "child_page"
            ? { title: b.text ?? "" }
            : b.type === "divider"
              ? {}
              : { rich_text: richText(b.text ?? ""), color: "default", ...b.extra }
        return {
          parent,
          block: {
            object: "block",
            id,
            type: b.type,
            has_children: (b.children?.length ?? 0) > 0,
            archived: false,
            in_trash: false,
            [b.type]: content,
          },
        }
      }),
    )
  }
  for (const [id, page] of Object.entries(pages)) add(id.replace(/-/g, "").toLowerCase(), page.blocks)
  const cursors = new Map<string, { parent: string; offset: number }>()

  const handle = (r: RecordedRequest): Reply => {
    if (r.headers.authorization !== `Bearer ${notionKey}`) return error(401, "unauthorized", "API token is invalid.")
    const version = r.headers["notion-version"]
    if (typeof version !== "string")
      return error(
        400,
        "missing_version",
        "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.",
      )
    if (!VERSIONS.has(version))
      return error(
        400,
        "validation_error",
        `Notion-Version header failed validation: ${version} is not a supported version.`,
      )
    if (r.method !== "GET") return error(405, "invalid_request", "Unsupported request method.")
    const url = new URL(r.path, "http://notion.test")
    const page = /^\/v1\/pages\/([0-9a-fA-F-]{32,36})$/.exec(url.pathname)
    if (page) {
      const id = page[1]!.replace(/-/g, "").toLowerCase()
      const found = Object.entries(pages).find(([k]) => k.replace(/-/g, "").toLowerCase() === id)
      if (!found)
        return error(
          404,
          "object_not_found",
          `Could not find page with ID: ${dashed(id)}. Make sure the relevant pages and databases are shared with your integration.`,
        )
      return {
        json: {
          object: "page",
          id: dashed(id),
          properties: { Name: { id: "title", type: "title", title: richText(found[1].title) } },
          url: `https://www.notion.so/${id}`,
        },
      }
    }
    const children = /^\/v1\/blocks\/([0-9a-fA-F-]{32,36})\/children$/.exec(url.pathname)
    if (!children) return error(400, "invalid_request_url", "Invalid request URL.")
    const parent = children[1]!.replace(/-/g, "").toLowerCase()
    const list = blocks.get(parent)
    if (!list)
      return error(
        404,
        "object_not_found",
        `Could not find block with ID: ${dashed(parent)}. Make sure the relevant pages and databases are shared with your integration.`,
      )
    const sizeParam = url.searchParams.get("page_size")
    const size = sizeParam === null ? 100 : Number(sizeParam)
    if (!Number.isInteger(size) || size < 1 || size > 100)
      return error(
        400,
        "validation_error",
        `body failed validation: body.page_size should be ≤ \`100\`, instead was \`${sizeParam}\`.`,
      )
    const cursor = url.searchParams.get("start_cursor")
    const at = cursor === null ? { parent, offset: 0 } : cursors.get(cursor)
    if (!at || at.parent !== parent) return error(400, "validation_error", "start_cursor provided is invalid.")
    const take = Math.min(size, options.pageSize ?? 100)
    const slice = list.slice(at.offset, at.offset + take)
    const more = at.offset + take < list.length
    let next: string | null = null
    if (more) {
      next = randomUUID()
      cursors.set(next, { parent, offset: at.offset + take })
    }
    return {
      json: {
        object: "list",
        results: slice.map((b) => b.block),
        next_cursor: next,
        has_more: more,
        type: "block",
        block: {},
        request_id: randomUUID(),
      },
    }
  }
  return { handle, error }
}
