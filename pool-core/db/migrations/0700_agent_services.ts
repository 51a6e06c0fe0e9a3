import { Effect } from "effect"
import { SqlClient } from "effect/sql"

// Agent services (the pool's /api/agent-services, providers/services).
// `agent_wallets`: each agent's wallet, held by the pool, not by the agent: a Bankr wallet (custody at Bankr, the row
// keeps its id and address) or a local key (AES-256-GCM ciphertext, never plaintext). A row outlives the agent's
// process and compute (destroy, restart, re-adopt) and goes only when the agent's resources are released, which
// records a `wallet-deleted` event.
// `agent_service_usage`: messages sent per agent, service and UTC day, counted in the database so that a restart
// never resets a daily limit.
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE agent_wallets (
      instance_id text PRIMARY KEY,
      provider text NOT NULL CHECK (provider IN ('bankr','local')),
      wallet_ref text NOT NULL,
      address text NOT NULL,
      secret_ciphertext text,
      created_at timestamptz NOT NULL DEFAULT now()
    )`
  yield* sql`
    CREATE TABLE agent_service_usage (
      instance_id text NOT NULL,
      service text NOT NULL,
      day date NOT NULL,
      count int NOT NULL,
      PRIMARY KEY (instance_id, service, day)
    )`
})
