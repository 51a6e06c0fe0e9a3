import type { Effect } from "effect"
import type { Pool } from "@convos-agents/pool-core"
import type { TopUpError, TopUpResult } from "@convos-agents/pool-core/providers/AgentResources.ts"
import type { SpendOf } from "@convos-agents/pool-core/providers/resources/spend.ts"

/** Who is talking, where, and what the bot can do for them. */
export interface CommandContext {
  readonly sender: string
  readonly conversationId: string
  readonly messageId: string
  /** True in the ops chat, for an admin. */
  readonly isOps: boolean
  /** Where the message arrived: the person's manager chat or the ops chat. */
  readonly where: "user" | "ops"
  readonly pool: Pool["Service"]
  /** OpenRouter spend per agent; never fails (null without a key, "unavailable" when OpenRouter did not answer). */
  readonly spendOf: SpendOf
  /** Raises an agent's OpenRouter spending cap (AgentResources.topUp); "OpenRouter is not configured" without it. */
  readonly topUp: (instanceId: string, amountUsd: number, by: string) => Effect.Effect<TopUpResult, TopUpError>
  /** Sends a message right away, before the final reply (e.g. "setting up…" before a slow claim). */
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
  /** "user": manager chats only; "ops": the ops chat, admins only; "any": both. */
  readonly scope: "user" | "ops" | "any"
  /**
   * Plain-word ways to say it ("new agent", "my agents"). A plain-word message is this command only when it is
   * exactly the alias, or when the words after it start with what `aliasArg` says (so sentences are not commands).
   */
  readonly aliases?: ReadonlyArray<string>
  /** What the first argument after a plain-word alias must be: a known template, or one of the sender's agents. */
  readonly aliasArg?: "template" | "agent"
  /** Minimum number of space-separated arguments; the last argument takes the rest of the line. */
  readonly minArgs: number
  readonly maxArgs: number
  readonly run: (ctx: CommandContext, args: ReadonlyArray<string>) => Effect.Effect<string, never>
}
