import { Effect } from "effect"
import { SqlClient } from "effect/sql"

// Manager bot: a message is "taken" by the bot process handling it (handled_by) and only done once answered
// (answered_at). A message taken by a process that died before answering is taken again after a restart, so every
// message gets its reply (at least once; claims stay single because their key is the message id).
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE processed_messages ADD COLUMN handled_by text, ADD COLUMN answered_at timestamptz`
  // Rows from before this migration were answered by the rules of the time: done.
  yield* sql`UPDATE processed_messages SET answered_at = processed_at`
})
