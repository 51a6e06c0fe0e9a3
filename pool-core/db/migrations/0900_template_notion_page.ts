import { Effect } from "effect"
import { SqlClient } from "effect/sql"

// A template may keep its instructions on a Notion page (templates.json `notionPageId`); claims read it through the
// pool's Notion prompt cache and fall back to the checked-in instructions.
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE templates ADD COLUMN notion_page_id text`
})
