import { Effect } from "effect"
import { SqlClient } from "effect/sql"

// Top-ups, one row per idempotency key (API: Idempotency-Key; ops chat: the message id). A row is written `pending`
// with the limit it raises from and to BEFORE OpenRouter is told, and `applied` after: a top-up cut off by a crash or
// a timeout is settled by the next top-up of that agent (the key's limit says whether it went through), so the same
// key never raises a cap twice. Top-ups of one agent run one at a time across replicas (advisory lock, see
// providers/resources/topUp.ts).
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE topups (
      idempotency_key text PRIMARY KEY,
      instance_id text NOT NULL,
      amount_usd double precision NOT NULL,
      before_usd double precision NOT NULL,
      limit_usd double precision NOT NULL,
      requested_by text NOT NULL,
      state text NOT NULL CHECK (state IN ('pending', 'applied')),
      created_at timestamptz NOT NULL DEFAULT now(),
      applied_at timestamptz
    )`
  yield* sql`CREATE INDEX topups_pending ON topups (instance_id) WHERE state = 'pending'`
})
