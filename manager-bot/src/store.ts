import { Context, Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import { DatabaseError } from "@convos-agents/pool-core"

const dbError = (e: { message: string }) => new DatabaseError({ message: `Manager bot state: ${e.message}`, cause: e })

/** The manager bot's own tables (migrations 0200, 0400, 1300). */
export class BotStore extends Context.Service<
  BotStore,
  {
    readonly chatOf: (inboxId: string) => Effect.Effect<Option.Option<string>, DatabaseError>
    readonly ownerOfChat: (conversationId: string) => Effect.Effect<Option.Option<string>, DatabaseError>
    readonly recordChat: (conversationId: string, inboxId: string) => Effect.Effect<void, DatabaseError>
    /**
     * Takes a message for this bot process (`handler`): "taken" when it is new, or was taken by a process that is gone
     * (`gone` says which; it died before answering); "done" when it is answered or this process has it already (a
     * redelivery); "held" while another process has it and is not (yet) known to be gone: ask again later.
     */
    readonly takeMessage: (
      messageId: string,
      handler: string,
      gone: (handler: string) => Effect.Effect<boolean>,
    ) => Effect.Effect<"taken" | "done" | "held", DatabaseError>
    /**
     * Claims the message's answer for `handler` before anything is sent: true when this process still holds the message
     * and nobody answered it; false when another process took it over (or it is answered): then nothing may be sent.
     */
    readonly claimAnswer: (messageId: string, handler: string) => Effect.Effect<boolean, DatabaseError>
    /**
     * What an earlier run of the message left (migration 1300): its command's intent and outcome (journal.ts), and
     * whether it accepted a /new that is pending (resumed on its own, pending/resume.ts).
     */
    readonly journalOf: (
      messageId: string,
    ) => Effect.Effect<{ intent: string | null; outcome: string | null; pending: boolean }, DatabaseError>
    /** Records the message's intent (before its effect) or outcome (after it), guarded on `handler` holding it. */
    readonly journal: (
      messageId: string,
      handler: string,
      entry: { readonly intent: string } | { readonly outcome: string },
    ) => Effect.Effect<void, DatabaseError>
    /**
     * Runs `effect` (database work only, e.g. a dialog step) and records `outcome` as the message's outcome in one
     * transaction: a takeover sees both or neither.
     */
    readonly withOutcome: <A, E>(
      messageId: string,
      handler: string,
      outcome: string,
      effect: Effect.Effect<A, E>,
    ) => Effect.Effect<A, E | DatabaseError>
    /** Forgets answered messages taken before `before` (older than any the stream can replay); returns how many. */
    readonly pruneAnswered: (before: Date) => Effect.Effect<number, DatabaseError>
    readonly getState: (key: string) => Effect.Effect<Option.Option<string>, DatabaseError>
    readonly setState: (key: string, value: string) => Effect.Effect<void, DatabaseError>
    /**
     * Sets `key` to `value` unless it already holds that value: true for the one caller (of every replica) that
     * changed it, so something said once per value (a spend-cap notice per cap) is said once.
     */
    readonly changeState: (key: string, value: string) => Effect.Effect<boolean, DatabaseError>
    readonly deleteState: (key: string) => Effect.Effect<void, DatabaseError>
  }
>()("manager-bot/BotStore") {
  static readonly layer = Layer.effect(
    BotStore,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      /** The first row's value, if any. */
      const single = <R extends object, A>(
        query: Effect.Effect<ReadonlyArray<R>, { message: string }>,
        pick: (row: R) => A,
      ) =>
        query.pipe(
          Effect.map((rows) => Option.map(Option.fromNullishOr(rows[0]), pick)),
          Effect.mapError(dbError),
        )
      return BotStore.of({
        chatOf: (inboxId) =>
          single(
            sql<{ conversationId: string }>`SELECT conversation_id FROM manager_chats WHERE inbox_id = ${inboxId}`,
            (x) => x.conversationId,
          ),
        ownerOfChat: (conversationId) =>
          single(
            sql<{ inboxId: string }>`SELECT inbox_id FROM manager_chats WHERE conversation_id = ${conversationId}`,
            (x) => x.inboxId,
          ),
        recordChat: (conversationId, inboxId) =>
          sql`INSERT INTO manager_chats (conversation_id, inbox_id) VALUES (${conversationId}, ${inboxId}) ON CONFLICT (inbox_id) DO UPDATE SET conversation_id = EXCLUDED.conversation_id`.pipe(
            Effect.asVoid,
            Effect.mapError(dbError),
          ),
        takeMessage: (messageId, handler, gone) =>
          Effect.gen(function* () {
            const inserted =
              yield* sql`INSERT INTO processed_messages (message_id, handled_by) VALUES (${messageId}, ${handler}) ON CONFLICT DO NOTHING RETURNING message_id`
            if (inserted.length > 0) return "taken" as const
            const [row] = yield* sql<{ handledBy: string | null; answered: boolean }>`
              SELECT handled_by, answered_at IS NOT NULL AS answered FROM processed_messages WHERE message_id = ${messageId}`
            if (!row || row.answered || row.handledBy === null || row.handledBy === handler) return "done" as const
            if (!(yield* gone(row.handledBy))) return "held" as const
            // Guarded on the previous handler: of two processes taking over at once, one wins.
            const taken = yield* sql`
              UPDATE processed_messages SET handled_by = ${handler}, processed_at = now()
              WHERE message_id = ${messageId} AND handled_by = ${row.handledBy} AND answered_at IS NULL RETURNING message_id`
            return taken.length > 0 ? ("taken" as const) : ("held" as const)
          }).pipe(Effect.mapError(dbError)),
        claimAnswer: (messageId, handler) =>
          sql`UPDATE processed_messages SET answered_at = now()
              WHERE message_id = ${messageId} AND handled_by = ${handler} AND answered_at IS NULL RETURNING message_id`.pipe(
            Effect.map((rows) => rows.length > 0),
            Effect.mapError(dbError),
          ),
        journalOf: (messageId) =>
          sql<{ intent: string | null; outcome: string | null; pending: boolean }>`
            SELECT p.intent, p.outcome, EXISTS (SELECT 1 FROM bot_pending_claims c WHERE c.message_id = ${messageId}) AS pending
            FROM (SELECT ${messageId}::text AS message_id) AS m
            LEFT JOIN processed_messages p ON p.message_id = m.message_id`.pipe(
            Effect.map((rows) => rows[0] ?? { intent: null, outcome: null, pending: false }),
            Effect.mapError(dbError),
          ),
        journal: (messageId, handler, entry) =>
          ("intent" in entry
            ? sql`UPDATE processed_messages SET intent = ${entry.intent} WHERE message_id = ${messageId} AND handled_by = ${handler}`
            : sql`UPDATE processed_messages SET outcome = ${entry.outcome} WHERE message_id = ${messageId} AND handled_by = ${handler}`
          ).pipe(Effect.asVoid, Effect.mapError(dbError)),
        withOutcome: <A, E>(messageId: string, handler: string, outcome: string, effect: Effect.Effect<A, E>) =>
          sql
            .withTransaction(
              effect.pipe(
                Effect.tap(() =>
                  sql`UPDATE processed_messages SET outcome = ${outcome} WHERE message_id = ${messageId} AND handled_by = ${handler}`.pipe(
                    Effect.mapError(dbError),
                  ),
                ),
              ),
            )
            .pipe(
              Effect.mapError((e): E | DatabaseError =>
                (e as { _tag?: unknown })._tag === "SqlError"
                  ? dbError(e as { message: string })
                  : (e as E | DatabaseError),
              ),
            ),
        pruneAnswered: (before) =>
          sql`DELETE FROM processed_messages WHERE answered_at IS NOT NULL AND processed_at < ${before} RETURNING message_id`.pipe(
            Effect.map((r) => r.length),
            Effect.mapError(dbError),
          ),
        getState: (key) =>
          single(sql<{ value: string }>`SELECT value FROM bot_state WHERE key = ${key}`, (x) => x.value),
        setState: (key, value) =>
          sql`INSERT INTO bot_state (key, value) VALUES (${key}, ${value}) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`.pipe(
            Effect.asVoid,
            Effect.mapError(dbError),
          ),
        changeState: (key, value) =>
          sql`INSERT INTO bot_state (key, value) VALUES (${key}, ${value})
              ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value WHERE bot_state.value <> EXCLUDED.value
              RETURNING key`.pipe(
            Effect.map((rows) => rows.length > 0),
            Effect.mapError(dbError),
          ),
        deleteState: (key) =>
          sql`DELETE FROM bot_state WHERE key = ${key}`.pipe(Effect.asVoid, Effect.mapError(dbError)),
      })
    }),
  )
}
