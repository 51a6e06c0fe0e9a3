import { Effect } from "effect"
import { SqlClient } from "effect/sql"

// Quotas (pool/quota): which owners each live agent counts against (the person; for a web launch also the visitor's
// IP address), and an index for counting an API client's claims in the last hour. Agents claimed before this count
// against their owner (claimed_by), except API clients', which are counted per hour instead.
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE instances ADD COLUMN quota_keys text[] NOT NULL DEFAULT '{}'`
  yield* sql`UPDATE instances SET quota_keys = ARRAY[claimed_by] WHERE claimed_by IS NOT NULL AND claimed_by NOT LIKE 'api:%'`
  yield* sql`CREATE INDEX claims_claimed_by_created ON claims (claimed_by, created_at)`
})
