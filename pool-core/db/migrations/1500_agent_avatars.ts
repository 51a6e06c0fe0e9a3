import { Effect } from "effect"
import { SqlClient } from "effect/sql"

// Agent profile pictures (manager bot /avatar): the picture the owner set (fetched and checked once by the pool), and
// the encrypted copies the agent uploads, one per conversation (Convos encrypts a profile image with each group's own
// key), served to that conversation's members at /avatars/<id>. A newer upload for the same conversation replaces
// the older one; both go with the instance's row.
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE agent_avatars (
      instance_id text PRIMARY KEY REFERENCES instances(id) ON DELETE CASCADE,
      content_type text NOT NULL,
      image bytea NOT NULL,
      sha256 text NOT NULL,
      source_url text NOT NULL,
      set_by text NOT NULL,
      set_at timestamptz NOT NULL DEFAULT now()
    )`
  yield* sql`
    CREATE TABLE avatar_blobs (
      id text PRIMARY KEY,
      instance_id text NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
      conversation_id text NOT NULL,
      ciphertext bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (instance_id, conversation_id)
    )`
})
