import { Effect, Exit, Option } from "effect"
import { Hono } from "hono"
import { NotConfigured } from "../../domain/errors.ts"
import { Pool } from "../../pool/Pool.ts"
import { NotionPrompts } from "../../providers/notion/NotionPrompts.ts"
import { requireKey } from "../auth.ts"
import { respond, type Run } from "../http.ts"

// GET /api/prompts/:pageId → {name, prompt}: an agent prompt kept on a Notion page, as plain text (the seed's route;
// the catalog's "copy this prompt"). Public only for the pages the catalog's templates name: the Notion integration
// may see other pages of the workspace, and a stranger holding such a page's id must not read it through us. Any
// other page needs the pool key. 400 for an id that is not a Notion page id, 503 naming NOTION_API_KEY when none is
// set, 502 when Notion refuses or fails (the message says which and what to do).

const promptOf = (pageId: string) =>
  Effect.serviceOption(NotionPrompts).pipe(
    Effect.flatMap(
      Option.match({
        // A runtime composed without the service reads no Notion, like one without a key.
        onNone: () => Effect.fail(NotConfigured.create("Notion", "NOTION_API_KEY")),
        onSome: (notion) => notion.prompt(pageId),
      }),
    ),
  )

/** Notion writes page ids with or without dashes, in any case; compare them as 32 lowercase hex digits. */
const samePage = (a: string, b: string) => a.replaceAll("-", "").toLowerCase() === b.replaceAll("-", "").toLowerCase()

const isCatalogPage = (pageId: string) =>
  Effect.flatMap(Pool, (p) => p.templates).pipe(
    Effect.map((templates) => templates.some((t) => t.notionPageId != null && samePage(t.notionPageId, pageId))),
  )

export const promptRoutes = (o: {
  readonly run: Run
  readonly apiKey: string | null
  readonly sessionSecret: string
}) => {
  const app = new Hono()
  const auth = requireKey(o.run, o.apiKey, o.sessionSecret)
  app.get("/:pageId", async (c, next) => {
    const catalog = await o.run(isCatalogPage(c.req.param("pageId")), c.req.raw.signal)
    return Exit.isSuccess(catalog) && catalog.value ? next() : auth(c, next)
  })
  app.get("/:pageId", (c) =>
    respond(c, o.run(promptOf(c.req.param("pageId")), c.req.raw.signal), (p) =>
      c.json({ name: p.name, prompt: p.prompt }),
    ),
  )
  return app
}
