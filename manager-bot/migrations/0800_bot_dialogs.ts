import { Effect } from "effect"
import { SqlClient } from "effect/sql"

// Manager bot: the dialog a person is in (the /new questions, a transfer waiting for acceptance), one per person per
// chat, kept in the database so a restart in the middle of a dialog continues it.
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE bot_dialogs (
      conversation_id text NOT NULL,
      sender text NOT NULL,
      kind text NOT NULL,
      state text NOT NULL,
      started_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (conversation_id, sender)
    )`
})
