import { Context, Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import { DatabaseError } from "@convos-agents/pool-core"

// A /new whose instructions were accepted is a row of bot_pending_claims (migration 1300) until its invite (or a
// refusal) is sent: a crash of the process running it loses nothing, another process (or the restarted one) resumes it.

export interface PendingClaim {
  /** The person's message that accepted the instructions: the claim's idempotency key is derived from it. */
  readonly messageId: string
  readonly conversationId: string
  readonly sender: string
  readonly agentName: string
  readonly instructions: string | null
  readonly templateSlug: string | null
}

export interface PendingRow extends PendingClaim {
  readonly handledBy: string
  /** Claims that were cut (their agent crashed with the process setting it up): the key of the next is `:<attempt>`. */
  readonly attempt: number
  /** The final text, once its sending was claimed; sentAt then says since when. */
  readonly reply: string | null
  readonly sentAt: Date | null
  readonly createdAt: Date
}

/** The claim's idempotency key: the same message and attempt always give the same key, so a replay gets the same agent. */
export const claimKey = (row: Pick<PendingRow, "messageId" | "attempt">) =>
  row.attempt === 0 ? `chat:${row.messageId}` : `chat:${row.messageId}:${row.attempt}`

const dbError = (e: { message: string }) =>
  new DatabaseError({ message: `Manager bot pending claims: ${e.message}`, cause: e })

export class PendingClaims extends Context.Service<
  PendingClaims,
  {
    /**
     * The instructions were accepted: ends the person's dialog and records the claim, in one transaction, for
     * `handler` (this process). Runs here until `finish`; `running` tells the resumer to leave it alone.
     */
    readonly accept: (claim: PendingClaim, handler: string) => Effect.Effect<void, DatabaseError>
    readonly get: (messageId: string) => Effect.Effect<Option.Option<PendingRow>, DatabaseError>
    readonly list: Effect.Effect<ReadonlyArray<PendingRow>, DatabaseError>
    /** Takes the row from `from` (gone, or this very process before a restart); false when someone else took it. */
    readonly take: (messageId: string, handler: string, from: string) => Effect.Effect<boolean, DatabaseError>
    /** The next attempt (its own key), guarded on still holding the row; None when it was taken over. */
    readonly nextAttempt: (messageId: string, handler: string) => Effect.Effect<Option.Option<number>, DatabaseError>
    /**
     * Claims the sending of the final text before it is sent: true for the one holder; false when another process
     * took the row over (then nothing may be sent). A row already claimed by this holder gives true again.
     */
    readonly claimSend: (messageId: string, handler: string, reply: string) => Effect.Effect<boolean, DatabaseError>
    /** Sent: the row is gone. */
    readonly finish: (messageId: string) => Effect.Effect<void, DatabaseError>
    /** Message ids this process is running now (the bot process's own, in memory). */
    readonly running: Set<string>
  }
>()("manager-bot/PendingClaims") {
  static readonly layer = Layer.effect(
    PendingClaims,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const running = new Set<string>()
      return PendingClaims.of({
        running,
        accept: (c, handler) =>
          Effect.sync(() => running.add(c.messageId)).pipe(
            Effect.andThen(
              sql.withTransaction(
                Effect.all([
                  sql`DELETE FROM bot_dialogs WHERE conversation_id = ${c.conversationId} AND sender = ${c.sender}`,
                  sql`INSERT INTO bot_pending_claims (message_id, conversation_id, sender, agent_name, instructions, template_slug, handled_by)
                      VALUES (${c.messageId}, ${c.conversationId}, ${c.sender}, ${c.agentName}, ${c.instructions}, ${c.templateSlug}, ${handler})
                      ON CONFLICT (message_id) DO NOTHING`,
                ]),
              ),
            ),
            Effect.asVoid,
            Effect.mapError(dbError),
            Effect.onError(() => Effect.sync(() => running.delete(c.messageId))),
          ),
        get: (messageId) =>
          sql<PendingRow>`SELECT * FROM bot_pending_claims WHERE message_id = ${messageId}`.pipe(
            Effect.map((rows) => Option.fromNullishOr(rows[0])),
            Effect.mapError(dbError),
          ),
        list: sql<PendingRow>`SELECT * FROM bot_pending_claims ORDER BY created_at`.pipe(Effect.mapError(dbError)),
        take: (messageId, handler, from) =>
          sql`UPDATE bot_pending_claims SET handled_by = ${handler}
              WHERE message_id = ${messageId} AND handled_by = ${from} RETURNING message_id`.pipe(
            Effect.map((rows) => rows.length > 0),
            Effect.mapError(dbError),
          ),
        nextAttempt: (messageId, handler) =>
          sql<{ attempt: number }>`UPDATE bot_pending_claims SET attempt = attempt + 1
              WHERE message_id = ${messageId} AND handled_by = ${handler} RETURNING attempt`.pipe(
            Effect.map((rows) => Option.map(Option.fromNullishOr(rows[0]), (r) => r.attempt)),
            Effect.mapError(dbError),
          ),
        claimSend: (messageId, handler, reply) =>
          sql`UPDATE bot_pending_claims SET reply = ${reply}, sent_at = now()
              WHERE message_id = ${messageId} AND handled_by = ${handler} AND (sent_at IS NULL OR reply = ${reply})
              RETURNING message_id`.pipe(
            Effect.map((rows) => rows.length > 0),
            Effect.mapError(dbError),
          ),
        finish: (messageId) =>
          sql`DELETE FROM bot_pending_claims WHERE message_id = ${messageId}`.pipe(
            Effect.asVoid,
            Effect.ensuring(Effect.sync(() => running.delete(messageId))),
            Effect.mapError(dbError),
          ),
      })
    }),
  )
}
