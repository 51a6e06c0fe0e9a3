import { Effect } from "effect"
import { SqlClient } from "effect/sql"

// Pool history (observability/history.ts): one sample at most a minute, written by the replica that runs the tick,
// for the admin page's 24-hour charts. `claims_waiting` is the sampling replica's queue (claimQueue.ts). `provider_calls` is what the pool spent of its provider call budget since the
// previous sample of that replica (RAILWAY_CALLS_PER_DAY is priced in the same requests). Kept 7 days.
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE pool_samples (
      id bigserial PRIMARY KEY,
      at timestamptz NOT NULL,
      starting int NOT NULL,
      idle int NOT NULL,
      claiming int NOT NULL,
      claimed int NOT NULL,
      crashed int NOT NULL,
      dead int NOT NULL,
      draining int NOT NULL,
      claims_waiting int NOT NULL,
      provider_calls int NOT NULL,
      calls_per_day int NOT NULL
    )`
  yield* sql`CREATE INDEX pool_samples_at ON pool_samples (at)`
  yield* sql`CREATE INDEX events_kind_created ON events (kind, created_at)`
})
