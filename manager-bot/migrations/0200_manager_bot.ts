import { Effect } from "effect"
import { SqlClient } from "effect/sql"

// Manager bot state: one private manager chat per person, the ids of handled messages (redelivery never runs a
// command twice) and small key/value state (ops chat id, lobby tag, stream cursor).
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE manager_chats (
      conversation_id text PRIMARY KEY,
      inbox_id text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now()
    )`
  yield* sql`CREATE TABLE processed_messages (message_id text PRIMARY KEY, processed_at timestamptz NOT NULL DEFAULT now())`
  yield* sql`CREATE TABLE bot_state (key text PRIMARY KEY, value text NOT NULL)`
})
