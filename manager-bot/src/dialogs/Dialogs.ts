import { Context, Effect, Layer, Option, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { DatabaseError } from "@convos-agents/pool-core"

// A dialog is a question the bot asked and is waiting for the answer to (the /new name and instructions, a transfer
// the new owner has to accept). One per person per chat, kept in the database (bot_dialogs): a restart of the bot
// in the middle of a dialog continues it where it was.

/** The /new dialog: asks the name, then the instructions, then claims. */
export const NewAgentDialog = Schema.Struct({
  kind: Schema.Literal("new"),
  step: Schema.Literals(["name", "instructions"]),
  templateSlug: Schema.NullOr(Schema.String),
  defaultName: Schema.String,
  /** Whether the template brings its own instructions (the claim reads them; the dialog only says so). */
  templateInstructions: Schema.Boolean,
  name: Schema.optional(Schema.String),
})
export type NewAgentDialog = typeof NewAgentDialog.Type

/**
 * A /transfer offer waiting for whoever has its code (/accept <code>, /decline <code>): kept under the key
 * ("transfer-offer:<code>", "offer"), not a person's chat, so it expires with the dialog TTL (commands/user/transfer.ts).
 */
export const TransferDialog = Schema.Struct({
  kind: Schema.Literal("transfer"),
  instanceId: Schema.String,
  agentName: Schema.String,
  from: Schema.String,
})
export type TransferDialog = typeof TransferDialog.Type

export const Dialog = Schema.Union([NewAgentDialog, TransferDialog])
export type Dialog = typeof Dialog.Type

const decode = Schema.decodeUnknownOption(Schema.fromJsonString(Dialog))
const encode = Schema.encodeSync(Schema.fromJsonString(Dialog))

/** Dialogs untouched this long are forgotten (someone who walked away from /new is not asked forever). */
export const DIALOG_TTL_MINUTES = 60

const dbError = (e: { message: string }) =>
  new DatabaseError({ message: `Manager bot dialogs: ${e.message}`, cause: e })

export class Dialogs extends Context.Service<
  Dialogs,
  {
    /** The person's open dialog in that chat, if any (an expired or unreadable one counts as none). */
    readonly get: (conversationId: string, sender: string) => Effect.Effect<Option.Option<Dialog>, DatabaseError>
    /** Starts or moves on the person's dialog in that chat (there is at most one). */
    readonly set: (conversationId: string, sender: string, dialog: Dialog) => Effect.Effect<void, DatabaseError>
    readonly end: (conversationId: string, sender: string) => Effect.Effect<void, DatabaseError>
  }
>()("manager-bot/Dialogs") {
  static readonly layer = Layer.effect(
    Dialogs,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      return Dialogs.of({
        get: (conversationId, sender) =>
          sql<{ state: string }>`
            SELECT state FROM bot_dialogs
            WHERE conversation_id = ${conversationId} AND sender = ${sender}
              AND started_at > now() - make_interval(mins => ${DIALOG_TTL_MINUTES})`.pipe(
            Effect.map((rows) => (rows[0] ? decode(rows[0].state) : Option.none())),
            Effect.mapError(dbError),
          ),
        set: (conversationId, sender, dialog) =>
          sql`
            INSERT INTO bot_dialogs (conversation_id, sender, kind, state) VALUES (${conversationId}, ${sender}, ${dialog.kind}, ${encode(dialog)})
            ON CONFLICT (conversation_id, sender) DO UPDATE SET kind = EXCLUDED.kind, state = EXCLUDED.state, started_at = now()`.pipe(
            Effect.asVoid,
            Effect.mapError(dbError),
          ),
        end: (conversationId, sender) =>
          sql`DELETE FROM bot_dialogs WHERE conversation_id = ${conversationId} AND sender = ${sender}`.pipe(
            Effect.asVoid,
            Effect.mapError(dbError),
          ),
      })
    }),
  )
}
