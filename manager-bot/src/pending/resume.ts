import { Duration, Effect, Option, Schedule, type Scope } from "effect"
import type { Pool } from "@convos-agents/pool-core"
import type { MessagingClient } from "@convos-agents/messaging"
import type { PendingClaims, PendingRow } from "./PendingClaims.ts"
import { runPendingClaim, sendFinal } from "./claim.ts"

// Resumes the /new claims whose process is gone: every bot process looks at the pending rows every second and takes
// over those whose holder is gone (its lock free for POOL_REPLICA_GONE_AFTER, as the pool's tick decides) or that
// are its own from before a restart and not running here. Of two processes taking one over, one wins (guarded on the
// previous holder); the claim's key is the row's, so the agent is the one the cut run claimed, if it got that far.

const SWEEP_EVERY = Duration.seconds(1)
/** How far before the row the chat is searched for a text the cut run may have sent (clock skew margin). */
const SENT_MARGIN_MS = 60_000

export interface ResumeDeps {
  readonly pool: Pool["Service"]
  readonly pending: PendingClaims["Service"]
  readonly client: MessagingClient
  /** This process's replica id (the ledger's handler). */
  readonly handler: string
  /** Gone: its lock stayed free for POOL_REPLICA_GONE_AFTER (Pool.replica). */
  readonly gone: (handler: string) => Effect.Effect<boolean>
  /** Where resumed claims run: the bot's scope (they stop with it, like the bot's own). */
  readonly scope: Scope.Scope
}

export const resumePending = (deps: ResumeDeps) => {
  const { pool, pending, client, handler } = deps
  const send = (row: PendingRow) => (text: string) => client.sendText(row.conversationId, text).pipe(Effect.asVoid)

  /** Whether the bot already said `text` in the row's chat (the cut run sent it, then died before removing the row). */
  const alreadySaid = (row: PendingRow, text: string) =>
    client
      .messages(row.conversationId, { afterMs: row.createdAt.getTime() - SENT_MARGIN_MS })
      .pipe(Effect.map((ms) => ms.some((m) => m.senderInboxId === client.inboxId && m.text === text)))

  /** One row this process took: its claim runs (or is replayed) to its final text, sent once. */
  const resume = (row: PendingRow) =>
    Effect.gen(function* () {
      yield* Effect.logInfo(`manager bot: resuming /new ${row.messageId} of a process that is gone`)
      if (row.reply !== null && row.sentAt !== null) {
        if (yield* alreadySaid(row, row.reply)) return yield* pending.finish(row.messageId)
        return yield* sendFinal(pending, handler, row.messageId, row.reply, send(row))
      }
      const text = yield* runPendingClaim(pool, pending, row, handler, true)
      if (Option.isNone(text)) return
      yield* sendFinal(pending, handler, row.messageId, text.value, send(row))
    }).pipe(
      Effect.ensuring(Effect.sync(() => pending.running.delete(row.messageId))),
      Effect.catchCause((cause) =>
        Effect.logWarning(`manager bot: resuming /new ${row.messageId} failed; it is tried again`, cause),
      ),
    )

  const sweep = Effect.gen(function* () {
    for (const row of yield* pending.list) {
      if (pending.running.has(row.messageId)) continue
      const mine = row.handledBy === handler
      if (!mine && !(yield* deps.gone(row.handledBy))) continue
      pending.running.add(row.messageId)
      if (!(yield* pending.take(row.messageId, handler, row.handledBy))) {
        pending.running.delete(row.messageId)
        continue
      }
      yield* resume({ ...row, handledBy: handler }).pipe(Effect.forkIn(deps.scope))
    }
  })

  return sweep.pipe(
    Effect.catchCause((cause) =>
      Effect.logWarning("manager bot: pending /new claims not checked; next round soon", cause),
    ),
    Effect.repeat(Schedule.spaced(SWEEP_EVERY)),
  )
}
