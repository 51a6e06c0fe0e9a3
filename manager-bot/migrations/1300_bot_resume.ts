import { Effect } from "effect"
import { SqlClient } from "effect/sql"

// Manager bot: what a crash must not lose or repeat.
// - bot_pending_claims: a /new whose instructions were accepted, until its invite (or refusal) is sent. The process
//   running it is `handled_by`; when that process is gone another one (or the restarted one) resumes it, claiming
//   with the same idempotency key (`attempt` 0: chat:<message_id>), so the person never retypes anything.
//   `reply` is the final text once its sending was claimed (sent_at): a resumer finds it in the chat or sends it.
// - processed_messages.intent / outcome: a command's effect (release, rename …) with the reply it gets, recorded
//   before and after the effect, so a takeover after a crash sends that reply instead of running the command again.
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE bot_pending_claims (
      message_id text PRIMARY KEY,
      conversation_id text NOT NULL,
      sender text NOT NULL,
      agent_name text NOT NULL,
      instructions text,
      template_slug text,
      handled_by text NOT NULL,
      attempt integer NOT NULL DEFAULT 0,
      reply text,
      sent_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`
  yield* sql`ALTER TABLE processed_messages ADD COLUMN intent text, ADD COLUMN outcome text`
})
