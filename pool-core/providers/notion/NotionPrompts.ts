import {
  APIErrorCode,
  Client,
  collectPaginatedAPI,
  isHTTPResponseError,
  isNotionClientError,
  LogLevel,
} from "@notionhq/client"
import { Cache, Context, Duration, Effect, Exit, Layer, Option, Redacted } from "effect"
import { InvalidRequest, NotConfigured, ProviderError } from "../../domain/errors.ts"
import { optionalSecret, readConfig, stringOr } from "../http/env.ts"
import { type BlockTree, blocksToText, type NotionBlock } from "./blocksToText.ts"

// Agent prompts kept in Notion (the seed's `/api/prompts/:pageId`, and templates whose instructions live on a Notion
// page): the page's title and its blocks as plain text, read with the official client (@notionhq/client) and kept
// for an hour, so a claim reads Notion at most once an hour per page and a Notion outage costs nothing already read.

export interface NotionPrompt {
  readonly pageId: string
  /** The page's title. */
  readonly name: string
  /** The page's blocks as plain text (blocksToText). */
  readonly prompt: string
}

export class NotionPrompts extends Context.Service<
  NotionPrompts,
  {
    /** The page's prompt, from the cache when read within the last hour. */
    readonly prompt: (pageId: string) => Effect.Effect<NotionPrompt, InvalidRequest | NotConfigured | ProviderError>
  }
>()("pool-core/providers/notion/NotionPrompts") {}

/** How long a page's prompt is served from memory before Notion is asked again. */
export const PROMPT_TTL = Duration.hours(1)
/** Nesting Notion allows is unbounded; a prompt needs a few levels (a toggle in a list item in a toggle). */
const MAX_DEPTH = 4
/** Blocks read per page at most (each nested level is a request; Notion allows about 3 requests a second). */
const MAX_BLOCKS = 2_000

const PAGE_ID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i

/** A Notion page id (32 hex digits, with or without the UUID dashes) as 32 lower-case hex digits, or null. */
export const normalizePageId = (raw: string): string | null =>
  PAGE_ID.test(raw.trim()) ? raw.trim().replace(/-/g, "").toLowerCase() : null

const badPageId = (raw: string) =>
  new InvalidRequest({
    field: "pageId",
    message: `pageId must be a Notion page id: 32 hex digits, with or without dashes (got "${raw.slice(0, 80)}").`,
  })

export interface NotionSettings {
  readonly apiKey: Redacted.Redacted<string>
  /** https://api.notion.com, or a loopback fake in tests. */
  readonly baseUrl: string
  /** The client's retries of 429 / 5xx (it honours Retry-After). Default: the client's (2 retries, 1 s back-off). */
  readonly retry?: { readonly maxRetries: number; readonly initialRetryDelayMs: number }
  readonly timeoutMs?: number
}

const failureOf = (pageId: string, e: unknown): ProviderError => {
  const status = isHTTPResponseError(e) ? e.status : null
  const code = isNotionClientError(e) ? e.code : null
  const what =
    code === APIErrorCode.ObjectNotFound
      ? `Notion has no page ${pageId} this integration can read: check the id, and share the page with the integration (page menu → Connections).`
      : code === APIErrorCode.Unauthorized || code === APIErrorCode.RestrictedResource
        ? `Notion refused NOTION_API_KEY for page ${pageId} (${code}): set NOTION_API_KEY to the integration's secret and give it read access.`
        : code === APIErrorCode.RateLimited
          ? `Notion is rate limiting this integration; try again in a minute.`
          : `Notion could not be read for page ${pageId}: ${e instanceof Error ? e.message : String(e)}.`
  return new ProviderError({
    provider: "Notion",
    operation: "read page",
    status,
    retryable: status === null || status === 429 || status >= 500,
    message: what,
  })
}

/** The title of a page object (its one `title` property), or "" for a partial page. */
const titleOf = (page: unknown): string => {
  const props =
    (page as { properties?: Record<string, { type?: string; title?: Array<{ plain_text: string }> }> }).properties ?? {}
  const title = Object.values(props).find((p) => p.type === "title")
  return (title?.title ?? [])
    .map((t) => t.plain_text)
    .join("")
    .trim()
}

/** The prompts service over one Notion client. */
export const makeNotionPrompts = (settings: NotionSettings) =>
  Effect.gen(function* () {
    const client = new Client({
      auth: Redacted.value(settings.apiKey),
      baseUrl: settings.baseUrl,
      timeoutMs: settings.timeoutMs ?? 15_000,
      logLevel: LogLevel.ERROR,
      ...(settings.retry ? { retry: settings.retry } : {}),
    })
    const call = <A>(pageId: string, f: () => Promise<A>) =>
      Effect.tryPromise({ try: f, catch: (e) => failureOf(pageId, e) })

    /** The block's children, a level at a time (Notion returns one level per list, in pages of at most 100). */
    const children = (
      pageId: string,
      blockId: string,
      depth: number,
      budget: { left: number },
    ): Effect.Effect<ReadonlyArray<BlockTree>, ProviderError> =>
      Effect.gen(function* () {
        const blocks = (yield* call(pageId, () =>
          collectPaginatedAPI(client.blocks.children.list, { block_id: blockId, page_size: 100 }),
        )) as unknown as ReadonlyArray<NotionBlock>
        const kept = blocks.filter((b) => typeof b.type === "string").slice(0, Math.max(0, budget.left))
        budget.left -= kept.length
        return yield* Effect.forEach(kept, (block) =>
          // A sub-page or database is other content, not part of this prompt.
          block.has_children &&
          depth < MAX_DEPTH &&
          block.type !== "child_page" &&
          block.type !== "child_database" &&
          budget.left > 0
            ? Effect.map(children(pageId, block.id, depth + 1, budget), (kids) => ({ block, children: kids }))
            : Effect.succeed({ block, children: [] }),
        )
      })

    const read = (pageId: string) =>
      Effect.gen(function* () {
        const page = yield* call(pageId, () => client.pages.retrieve({ page_id: pageId }))
        const trees = yield* children(pageId, pageId, 1, { left: MAX_BLOCKS })
        return { pageId, name: titleOf(page), prompt: blocksToText(trees) } satisfies NotionPrompt
      })

    // Concurrent reads of one page share one lookup; failures are not kept (the next request asks Notion again).
    const cache = yield* Cache.makeWith(read, {
      capacity: 1_000,
      timeToLive: (exit) => (Exit.isSuccess(exit) ? PROMPT_TTL : Duration.zero),
    })

    return NotionPrompts.of({
      prompt: (raw) => {
        const pageId = normalizePageId(raw)
        return pageId === null ? Effect.fail(badPageId(raw)) : Cache.get(cache, pageId)
      },
    })
  })

const notConfigured = NotionPrompts.of({
  prompt: (raw) =>
    Effect.fail(normalizePageId(raw) === null ? badPageId(raw) : NotConfigured.create("Notion", "NOTION_API_KEY")),
})

/** NOTION_API_KEY (an internal integration secret) and NOTION_API_URL (default https://api.notion.com). Without a key every read fails NotConfigured naming NOTION_API_KEY. */
export const NotionPromptsLive = Layer.effect(
  NotionPrompts,
  Effect.gen(function* () {
    const apiKey = yield* readConfig(optionalSecret("NOTION_API_KEY"))
    const baseUrl = yield* readConfig(stringOr("NOTION_API_URL", "https://api.notion.com"))
    return Option.isNone(apiKey) ? notConfigured : yield* makeNotionPrompts({ apiKey: apiKey.value, baseUrl })
  }),
)

/** For tests: the service over explicit settings. */
export const notionPromptsLayer = (settings: NotionSettings) => Layer.effect(NotionPrompts, makeNotionPrompts(settings))
