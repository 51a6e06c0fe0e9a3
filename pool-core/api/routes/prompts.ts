import { Effect, Option } from "effect"
import { Hono } from "hono"
import { NotConfigured } from "../../domain/errors.ts"
import { NotionPrompts } from "../../providers/notion/NotionPrompts.ts"
import { respond, type Run } from "../http.ts"

// GET /api/prompts/:pageId → {name, prompt}: an agent prompt kept on a Notion page, as plain text (the seed's route;
// the catalog's "copy this prompt"). Public like the catalog. 400 for an id that is not a Notion page id, 503 naming
// NOTION_API_KEY when none is set, 502 when Notion refuses or fails (the message says which and what to do).

const promptOf = (pageId: string) =>
  Effect.serviceOption(NotionPrompts).pipe(
    Effect.flatMap(
      Option.match({
        // A runtime composed without the service reads no Notion, like one without a key.
        onNone: () => Effect.fail(NotConfigured.create("Notion", "NOTION_API_KEY")),
        onSome: (notion) => notion.prompt(pageId),
      })
    )
  )

export const promptRoutes = (o: { readonly run: Run }) => {
  const app = new Hono()
  app.get("/:pageId", (c) => respond(c, o.run(promptOf(c.req.param("pageId")), c.req.raw.signal), (p) => c.json({ name: p.name, prompt: p.prompt })))
  return app
}
