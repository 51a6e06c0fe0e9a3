import { Effect } from "effect"
import { SqlClient } from "effect/sql"

// Core pool tables. Kept to SQL that Postgres 15 (CI) and PGlite (Postgres 18 in wasm) both accept.
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE instances (
      id text PRIMARY KEY,
      status text NOT NULL CHECK (status IN ('starting','idle','claiming','claimed','crashed','dead','draining')),
      provider text NOT NULL,
      provider_ref text,
      provider_project_ref text,
      url text,
      token_hash text NOT NULL,
      agent_name text,
      instructions text,
      template_slug text,
      conversation_id text,
      invite_url text,
      join_url text,
      claimed_by text,
      last_error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      claimed_at timestamptz,
      last_healthy_at timestamptz,
      -- first time the provider reported it failed/gone; deaths are declared only after the grace period
      unhealthy_since timestamptz
    )`
  yield* sql`CREATE INDEX instances_status_created ON instances (status, created_at)`
  yield* sql`CREATE INDEX instances_claimed_by ON instances (claimed_by) WHERE claimed_by IS NOT NULL`
  yield* sql`
    CREATE TABLE events (
      id bigserial PRIMARY KEY,
      instance_id text NOT NULL,
      from_status text,
      to_status text,
      kind text NOT NULL,
      detail text,
      created_at timestamptz NOT NULL DEFAULT now()
    )`
  yield* sql`CREATE INDEX events_instance ON events (instance_id, id)`
  yield* sql`
    CREATE TABLE templates (
      slug text PRIMARY KEY,
      name text NOT NULL,
      description text NOT NULL,
      category text NOT NULL,
      emoji text NOT NULL,
      skills text NOT NULL,
      instructions text NOT NULL,
      position int NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`
  // One row per idempotency key: the same key always maps to the same instance.
  yield* sql`
    CREATE TABLE claims (
      key text PRIMARY KEY,
      instance_id text NOT NULL,
      claimed_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`
  yield* sql`CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`
})
