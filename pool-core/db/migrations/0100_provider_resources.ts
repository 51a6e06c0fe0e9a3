import { Effect } from "effect"
import { SqlClient } from "effect/sql"

// Provider resources. `instance_resources`: what each instance holds, written before acquire returns, so every
// release path (kill, dismiss, give-back, a restart in between) finds it and releases it exactly once (guarded
// DELETE … RETURNING). `phone_numbers`: the pool's own Telnyx numbers, reused before buying new ones.
// `resource_errors`: why an acquire or release failed, for the admin page.
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE instance_resources (
      instance_id text NOT NULL,
      provider text NOT NULL CHECK (provider IN ('openrouter','agentmail','telnyx','bankr')),
      external_id text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (instance_id, provider)
    )`
  yield* sql`
    CREATE TABLE phone_numbers (
      phone_number text PRIMARY KEY,
      status text NOT NULL CHECK (status IN ('available','assigned')),
      instance_id text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CHECK ((status = 'assigned') = (instance_id IS NOT NULL))
    )`
  yield* sql`CREATE INDEX phone_numbers_available ON phone_numbers (updated_at) WHERE status = 'available'`
  yield* sql`
    CREATE TABLE resource_errors (
      id bigserial PRIMARY KEY,
      instance_id text NOT NULL,
      provider text NOT NULL,
      operation text NOT NULL,
      message text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`
  yield* sql`CREATE INDEX resource_errors_instance ON resource_errors (instance_id, id)`
})
