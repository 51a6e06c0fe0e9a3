import type { Effect } from "effect"
import type { Pool } from "@convos-agents/pool-core"
import type { SpendOf } from "@convos-agents/pool-core/providers/resources/spend.ts"

/** Who is talking, where, and what the bot can do for them. */
export interface CommandContext {
  readonly sender: string
  readonly conversationId: string
  readonly messageId: string
  /** True in the ops chat, for an admin. */
  readonly isOps: boolean
  readonly pool: Pool["Service"]
  /** OpenRouter spend per agent; never fails (null without a key, "unavailable" when OpenRouter did not answer). */
  readonly spendOf: SpendOf
  /** Sends an extra message before the final reply (e.g. "setting up…"). */
  readonly say: (text: string) => Effect.Effect<void>
  /** Starts the /new dialog (used by /new). */
  readonly startDialog: (templateSlug: string | null) => Effect.Effect<string>
  readonly inviteUrlFor: (templateSlug?: string) => string
}

export interface Command {
  readonly name: string
  /** Usage after the name, e.g. "<agent> <name>"; empty when it takes none. */
  readonly args: string
  readonly help: string
  readonly scope: "user" | "ops"
  /** Plain-word ways to say it ("new agent", "my agents"). */
  readonly aliases?: ReadonlyArray<string>
  /** Minimum number of space-separated arguments; the last argument takes the rest of the line. */
  readonly minArgs: number
  readonly maxArgs: number
  readonly run: (ctx: CommandContext, args: ReadonlyArray<string>) => Effect.Effect<string, never>
}
