import { readFileSync } from "node:fs"
import { Effect, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { InvalidConfig } from "../domain/errors.ts"
import { Template } from "../domain/template.ts"
import { toDatabaseError } from "../pool/repo.ts"

const catalogFile = new URL("./templates.json", import.meta.url)

/** The checked-in catalog, validated; a broken file fails at start naming the entry. */
export const loadCatalog = Effect.try({
  try: () => JSON.parse(readFileSync(catalogFile, "utf8")) as unknown,
  catch: (e) =>
    new InvalidConfig({
      variable: "pool-core/db/templates.json",
      message: `pool-core/db/templates.json is not valid JSON (${String(e)}): fix the file and start again`,
    }),
}).pipe(Effect.flatMap(Schema.decodeUnknownEffect(Schema.Array(Template))), Effect.orDie)

/** Upserts the catalog into `templates` (catalog order kept in `position`). */
export const syncTemplates = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const catalog = yield* loadCatalog
  yield* Effect.forEach(
    catalog,
    (t, position) =>
      sql`
        INSERT INTO templates (slug, name, description, category, emoji, skills, instructions, notion_page_id, model, position)
        VALUES (${t.slug}, ${t.name}, ${t.description}, ${t.category}, ${t.emoji}, ${JSON.stringify(t.skills)}, ${t.instructions}, ${t.notionPageId ?? null}, ${t.model ?? null}, ${position})
        ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description, category = EXCLUDED.category,
          emoji = EXCLUDED.emoji, skills = EXCLUDED.skills, instructions = EXCLUDED.instructions, notion_page_id = EXCLUDED.notion_page_id,
          model = EXCLUDED.model,
          position = EXCLUDED.position, updated_at = now()`,
    { discard: true },
  ).pipe(Effect.mapError(toDatabaseError))
  return catalog.length
})

interface TemplateRow {
  readonly slug: string
  readonly name: string
  readonly description: string
  readonly category: string
  readonly emoji: string
  readonly skills: string
  readonly instructions: string
  readonly notionPageId: string | null
  readonly model: string | null
}

export const rowToTemplate = (r: TemplateRow) => new Template({ ...r, skills: JSON.parse(r.skills) as string[] })

export const readTemplates = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows =
    yield* sql<TemplateRow>`SELECT slug, name, description, category, emoji, skills, instructions, notion_page_id, model FROM templates ORDER BY position, slug`.pipe(
      Effect.mapError(toDatabaseError),
    )
  return rows.map(rowToTemplate)
})
