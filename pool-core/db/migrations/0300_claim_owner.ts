import { Effect } from "effect"
import { SqlClient } from "effect/sql"

// Which pool replica is setting up a `claiming` instance (pool/replica.ts: a random id per pool process, alive while
// its session advisory lock is held). The tick resolves a claim left `claiming` only when that replica is gone, so a
// replica starting next to a busy one never touches its in-flight claims. NULL on rows claimed before this column.
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE instances ADD COLUMN claim_owner text`
})
