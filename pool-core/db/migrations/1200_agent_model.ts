import { Effect } from "effect"
import { SqlClient } from "effect/sql"

// Per-agent model (issue 24): a template may name the model its agents think with (templates.json `model`), and each
// claimed agent keeps its own (`instances.model`: the template's at claim, an owner's `/model` after). NULL in both is
// the configured model (MODEL with MODEL_BASE_URL, else OPENCLAW_PRIMARY_MODEL).
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE templates ADD COLUMN model text`
  yield* sql`ALTER TABLE instances ADD COLUMN model text`
})
