import type { Effect } from "effect"
import type { Pool } from "@convos-agents/pool-core"
import type { HeldResource, TopUpError, TopUpResult } from "@convos-agents/pool-core"
import type { SpendOf } from "@convos-agents/pool-core/providers/resources"
import type { BotContext } from "../bot/context.ts"
import type { Dialog, Dialogs } from "../dialogs/Dialogs.ts"
import type { PendingClaims } from "../pending/PendingClaims.ts"

/** What /info says about this deployment (ops chat). */
export interface About {
  readonly version: string
  readonly commit: string | null
  readonly environment: string
  /** The messaging network: devnet, or XMTP dev/production. */
  readonly network: string
  /** Where agents run (the Compute layer's name). */
  readonly compute: string
  readonly model: { readonly source: string; readonly id: string | null }
}

/** What commands use besides the message: built once per bot. */
export interface BotServices {
  readonly pool: Pool["Service"]
  readonly dialogs: Dialogs["Service"]
  /** /new claims whose instructions were accepted, until their invite is sent (resumed after a crash). */
  readonly pending: PendingClaims["Service"]
  /**
   * Sends a text to a chat, failing when it is not sent (ManagerBot: the messaging client); without it, `reply`.
   * For a text whose sending is guarded elsewhere (a /new's invite, on its pending row).
   */
  readonly say?: (conversationId: string, text: string) => Effect.Effect<void, unknown>
  /** OpenRouter spend per agent; never fails (null without a key, "unavailable" when OpenRouter did not answer). */
  readonly spendOf: SpendOf
  /**
   * Raises an agent's OpenRouter spending cap (AgentResources.topUp; `key` makes it once only); "OpenRouter is not
   * configured" without it.
   */
  readonly topUp: (
    instanceId: string,
    amountUsd: number,
    by: string,
    key?: string,
  ) => Effect.Effect<TopUpResult, TopUpError>
  readonly inviteUrlFor: (templateSlug?: string) => string
  /** Says `text` in that person's manager chat (nothing when they have none); never fails. */
  readonly tell: (inboxId: string, text: string) => Effect.Effect<void>
  /** The provider resources an agent holds (email inbox, phone number, wallet …); none without AgentResources. */
  readonly heldBy: (instanceId: string) => Effect.Effect<ReadonlyArray<HeldResource>, unknown>
  /** This deployment, for /info. */
  readonly about: Effect.Effect<About>
}

/** Who is talking, where, how to answer, and what the bot can do for them. */
export interface CommandContext extends BotContext, BotServices {
  /** Where the message arrived: the person's manager chat or the ops chat. */
  readonly where: "user" | "ops"
  /** True in the ops chat, for an admin. */
  readonly isOps: boolean
}

/** A command, declared once: its name, arguments, help line and handler (/help is generated from these). */
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
  /** Answers through ctx.reply; never fails (failures are explained to the person). */
  readonly run: (ctx: CommandContext, args: ReadonlyArray<string>) => Effect.Effect<void>
  /**
   * The dialog this command starts, continued here with each next message of that person in that chat. `next`
   * passes the message on to the normal commands (when it is not an answer to the dialog).
   */
  readonly dialog?: {
    readonly kind: Dialog["kind"]
    readonly continue: (ctx: CommandContext, dialog: Dialog, next: Effect.Effect<void>) => Effect.Effect<void>
  }
}
