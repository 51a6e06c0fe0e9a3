import { Effect, Option, Schema } from "effect"
import type { DatabaseError, Pool } from "@convos-agents/pool-core"

// A person's command that changes something (release, rename …) is answered once and correctly even when the process
// answering it dies midway and another one takes the message over. Before the effect the command records its intent:
// the reply it gets and how to tell the effect was applied; after the effect, its reply (the outcome). The takeover
// sends the outcome, or the intent's reply when the effect is found applied, instead of running the command again
// (which would answer "You have no agent called …" for an agent the first run released or renamed).

/** How a takeover tells that the cut run applied the effect. */
export const Applied = Schema.Union([
  /** The agent is released (gone, or draining: its destroy was under way). */
  Schema.Struct({ kind: Schema.Literal("released"), instanceId: Schema.String }),
  /** The agent is called `agentName` now. */
  Schema.Struct({ kind: Schema.Literal("renamed"), instanceId: Schema.String, agentName: Schema.String }),
  /** The agent belongs to the message's sender now (an /accept). */
  Schema.Struct({ kind: Schema.Literal("transferred"), instanceId: Schema.String }),
  /**
   * The agent's invite link is no longer `from` (an /invite new): the reply is the intent's followed by the link the
   * pool has now, which a takeover cannot know before the rotation.
   */
  Schema.Struct({ kind: Schema.Literal("rotated"), instanceId: Schema.String, from: Schema.NullOr(Schema.String) }),
])
export type Applied = typeof Applied.Type

/** A message to someone else the command sends after its effect (the giver of an accepted transfer). */
const Tell = Schema.Struct({ inboxId: Schema.String, text: Schema.String })
export type Tell = typeof Tell.Type

const Intent = Schema.Struct({ applied: Applied, reply: Schema.String, tell: Schema.optional(Tell) })
const decodeIntent = Schema.decodeUnknownOption(Schema.fromJsonString(Intent))
const encodeIntent = Schema.encodeSync(Schema.fromJsonString(Intent))

/** What a command records of its effect (BotContext.journal); a bare pipeline (tests) records nothing. */
export interface Journal {
  /** Before the effect: the reply it gets, and how a takeover tells it was applied. */
  readonly intend: (applied: Applied, reply: string, tell?: Tell) => Effect.Effect<void>
  /** After the effect: the reply, so a takeover only sends it. */
  readonly record: (reply: string) => Effect.Effect<void>
  /**
   * A database-only effect (a dialog step) and its reply, recorded in one transaction: a takeover either finds both
   * (and only sends the reply) or neither (and runs the message as new).
   */
  readonly recordWith: <A, E>(effect: Effect.Effect<A, E>, reply: string) => Effect.Effect<A, E | DatabaseError>
}

export const noJournal: Journal = {
  intend: () => Effect.void,
  record: () => Effect.void,
  recordWith: (effect) => effect,
}

/** A journal over the ledger row of one message, for the process holding it; a failed write is logged, not fatal. */
export const ledgerJournal = (
  write: (
    entry: { readonly intent: string } | { readonly outcome: string },
  ) => Effect.Effect<void, { message: string }>,
  withOutcome: <A, E>(outcome: string, effect: Effect.Effect<A, E>) => Effect.Effect<A, E | DatabaseError>,
): Journal => {
  const logged = (entry: { readonly intent: string } | { readonly outcome: string }) =>
    write(entry).pipe(
      Effect.catchCause((cause) =>
        Effect.logWarning(
          "manager bot: a command's journal entry was not recorded (a takeover may run it again)",
          cause,
        ),
      ),
    )
  return {
    intend: (applied, reply, tell) =>
      logged({ intent: encodeIntent(tell ? { applied, reply, tell } : { applied, reply }) }),
    record: (reply) => logged({ outcome: reply }),
    recordWith: (effect, reply) => withOutcome(reply, effect),
  }
}

/** The intent's reply when the effect it names is applied now (a rotation's ends with the current link). */
const replyIfApplied = (pool: Pool["Service"], sender: string, applied: Applied, reply: string) =>
  pool.get(applied.instanceId).pipe(
    Effect.map((i) => {
      const applies =
        applied.kind === "released"
          ? i.status === "draining" || i.status === "dead"
          : applied.kind === "renamed"
            ? i.claimedBy === sender && i.agentName === applied.agentName
            : applied.kind === "transferred"
              ? i.claimedBy === sender
              : i.claimedBy === sender && i.inviteUrl !== null && i.inviteUrl !== applied.from
      if (!applies) return Option.none<string>()
      return Option.some(applied.kind === "rotated" ? `${reply}${i.inviteUrl}` : reply)
    }),
    Effect.catchTag("InstanceNotFound", () =>
      Effect.succeed(applied.kind === "released" ? Option.some(reply) : Option.none<string>()),
    ),
  )

/**
 * The reply of a message an earlier run began, without running it again: its recorded outcome, or its intent's reply
 * when the effect is applied, with the intent's message to someone else (recorded before the effect and sent after the
 * outcome, so with no outcome it was not sent). None: nothing (or nothing applied) was recorded; answered as new.
 */
export interface Recorded {
  readonly reply: string
  readonly tell?: Tell
}

export const recordedReply = (
  pool: Pool["Service"],
  sender: string,
  entry: { readonly intent: string | null; readonly outcome: string | null },
) =>
  Effect.gen(function* () {
    if (entry.outcome !== null) return Option.some<Recorded>({ reply: entry.outcome })
    const intent = entry.intent === null ? Option.none() : decodeIntent(entry.intent)
    if (Option.isNone(intent)) return Option.none<Recorded>()
    const { applied, reply, tell } = intent.value
    const applies = yield* replyIfApplied(pool, sender, applied, reply)
    return Option.map(applies, (r): Recorded => (tell ? { reply: r, tell } : { reply: r }))
  })
