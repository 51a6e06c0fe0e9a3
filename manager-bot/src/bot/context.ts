import type { Effect } from "effect"
import type { Journal } from "../journal.ts"

/** One message to the bot, as the transport hands it over. */
export interface Incoming {
  readonly conversationId: string
  readonly sender: string
  readonly messageId: string
  readonly text: string
  /** The message arrived in the ops chat. */
  readonly inOpsChat: boolean
  /** The sender is an admin. */
  readonly isAdmin: boolean
  /** Where a command records its effect and reply (journal.ts); none by default. */
  readonly journal?: Journal
}

/**
 * What every step of the bot sees (like grammY's Context): the message, and `reply`, the one way a reply leaves — it
 * is sent at once, in order, so "Setting up…" goes out before a slow claim and the invite after it.
 */
export interface BotContext extends Incoming {
  readonly reply: (text: string) => Effect.Effect<void>
  readonly journal: Journal
}

/** One step of the chain: handles the message itself, or passes it (possibly enriched) to the next step. */
export type Middleware<In extends BotContext = BotContext, Out extends BotContext = In> = (
  ctx: In,
  next: (ctx: Out) => Effect.Effect<void>,
) => Effect.Effect<void>
