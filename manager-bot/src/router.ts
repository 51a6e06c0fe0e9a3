import { Context, Effect, Layer } from "effect"
import { inputLimits, Pool } from "@convos-agents/pool-core"
import { makeSpendOf } from "@convos-agents/pool-core/providers/resources/spend.ts"
import { replyOr } from "./commands/explain.ts"
import { opsCommands } from "./commands/ops.ts"
import { helpText, parseCommand, usage } from "./commands/parse.ts"
import type { CommandContext } from "./commands/types.ts"
import { userCommands } from "./commands/user.ts"

export const allCommands = [...userCommands, ...opsCommands]
export const MAX_MESSAGE_CHARS = 4_000
export const COMMANDS_PER_MINUTE = 30

export interface Incoming {
  readonly conversationId: string
  readonly sender: string
  readonly messageId: string
  readonly text: string
  /** The message arrived in the ops chat. */
  readonly inOpsChat: boolean
  /** The sender is an admin. */
  readonly isAdmin: boolean
}

interface Dialog {
  readonly step: "name" | "instructions"
  readonly templateSlug: string | null
  readonly defaultName: string
  readonly defaultInstructions: string | null
  readonly name?: string
  readonly startedAt: number
}

/**
 * The manager bot's brain, independent of transport: one incoming text → the replies to send, in order.
 * Holds the per-person dialogs and rate limits of this process.
 */
export class ManagerRouter extends Context.Service<ManagerRouter, {
  readonly handle: (input: Incoming) => Effect.Effect<ReadonlyArray<string>>
  /** Starts the /new dialog for someone (a template invite from the web catalog does this on join). */
  readonly startDialog: (conversationId: string, sender: string, templateSlug: string | null) => Effect.Effect<string>
}>()("manager-bot/ManagerRouter") {}

export const makeRouter = (options: { readonly inviteUrlFor: (templateSlug?: string) => string; readonly commandsPerMinute?: number }) =>
  Effect.gen(function* () {
    const pool = yield* Pool
    const spendOf = yield* makeSpendOf
    const dialogs = new Map<string, Dialog>()
    const recent = new Map<string, number[]>()
    const perMinute = options.commandsPerMinute ?? COMMANDS_PER_MINUTE

    const dialogKey = (conversationId: string, sender: string) => `${conversationId}\u0000${sender}`

    const startDialog = (conversationId: string, sender: string, templateSlug: string | null) =>
      Effect.gen(function* () {
        const template = templateSlug ? yield* pool.template(templateSlug).pipe(Effect.option) : null
        const t = template && template._tag === "Some" ? template.value : null
        dialogs.set(dialogKey(conversationId, sender), {
          step: "name",
          templateSlug: t?.slug ?? null,
          defaultName: t?.name ?? "Assistant",
          defaultInstructions: t?.instructions ?? null,
          startedAt: Date.now(),
        })
        return `${t ? `Let's set up a ${t.emoji} ${t.name}. ` : "Let's get you an agent. "}What should it be called? (/skip keeps "${t?.name ?? "Assistant"}", /cancel stops)`
      })

    /** Rate limit per person: a sliding minute. */
    const allow = (sender: string) => {
      const now = Date.now()
      const times = (recent.get(sender) ?? []).filter((t) => now - t < 60_000)
      if (times.length >= perMinute) return false
      times.push(now)
      recent.set(sender, times)
      // Forget people who went quiet, and dialogs abandoned for an hour, so memory does not grow with every sender.
      if (recent.size > 1_000) for (const [k, v] of recent) if (v.every((t) => now - t >= 60_000)) recent.delete(k)
      if (dialogs.size > 1_000) for (const [k, d] of dialogs) if (now - d.startedAt > 3_600_000) dialogs.delete(k)
      return true
    }

    const claim = (input: Incoming, d: Dialog, instructions: string | null) =>
      Effect.gen(function* () {
        const said: string[] = [`Setting up ${d.name ?? d.defaultName}… this takes a few seconds.`]
        const reply = yield* replyOr(
          pool.claim({
            key: `chat:${input.messageId}`,
            claimedBy: input.sender,
            agentName: d.name ?? d.defaultName,
            ...(instructions ?? d.defaultInstructions ? { instructions: (instructions ?? d.defaultInstructions)! } : {}),
            ...(d.templateSlug ? { templateSlug: d.templateSlug } : {}),
          }),
          (r) =>
            `${r.instance.agentName} is ready. Open this link in Convos to start chatting (share it to add others):\n${r.inviteUrl ?? "(no link: it joined a conversation)"}\n` +
            `Manage it with /agents, /name, /instruct, /invite, /join, /release.`
        )
        return [...said, reply]
      })

    const continueDialog = (input: Incoming, d: Dialog) =>
      Effect.gen(function* () {
        const key = dialogKey(input.conversationId, input.sender)
        const text = input.text.trim()
        if (/^\/cancel\b/i.test(text)) {
          dialogs.delete(key)
          return ["Cancelled. Say /new to start again."]
        }
        const skip = /^\/skip\b/i.test(text)
        if (d.step === "name") {
          if (!skip && (text.startsWith("/") || text.length === 0)) return [`Send a name for your agent, /skip to keep "${d.defaultName}", or /cancel.`]
          if (!skip && text.length > inputLimits.agentName) return [`That name is too long (at most ${inputLimits.agentName} characters). Try a shorter one.`]
          dialogs.set(key, { ...d, step: "instructions", name: skip ? d.defaultName : text })
          return [`Great: ${skip ? d.defaultName : text}. What should it do? Send its instructions in one message (/skip keeps ${d.defaultInstructions ? "the template's" : "the default"} instructions).`]
        }
        // Instructions are data: whatever the person sends (other than /skip, /cancel) is stored as is.
        if (!skip && text.length > inputLimits.instructions) return [`Those instructions are too long (at most ${inputLimits.instructions} characters). Shorten them and send again.`]
        dialogs.delete(key)
        return yield* claim(input, d, skip ? null : text)
      })

    const handle = (input: Incoming): Effect.Effect<ReadonlyArray<string>> =>
      Effect.gen(function* () {
        if (input.text.length > MAX_MESSAGE_CHARS) return [`That message is too long for me (${input.text.length} characters; at most ${MAX_MESSAGE_CHARS}). Say /help for what I can do.`]
        if (!allow(input.sender)) return [`You're sending commands faster than I can take them (at most ${perMinute} a minute). Wait a moment, then try again.`]
        const dialog = input.inOpsChat ? undefined : dialogs.get(dialogKey(input.conversationId, input.sender))
        if (dialog) return yield* continueDialog(input, dialog)

        const parsed = parseCommand(allCommands, input.text)
        const scope = input.inOpsChat ? "ops" : "user"
        if (parsed._tag === "Unknown") {
          if (parsed.word === "help" || /^\s*(help|\?)\s*$/i.test(input.text)) return [helpText(allCommands, scope)]
          const what = parsed.word ? `I don't know /${parsed.word}.` : "I didn't understand that."
          return [`${what} ${helpText(allCommands, scope)}`]
        }
        if (parsed._tag === "Usage") return [`${parsed.problem} Usage: ${usage(parsed.command)} — ${parsed.command.help}`]
        const command = parsed.command
        if (command.scope === "ops" && !(input.inOpsChat && input.isAdmin)) {
          return [input.inOpsChat ? "Only admins can use ops commands." : `/${command.name} is an ops command: it only works in the ops chat, for admins.`]
        }
        if (command.scope === "user" && input.inOpsChat) return [`/${command.name} works in your manager chat, not in the ops chat.`]
        const extra: string[] = []
        const ctx: CommandContext = {
          sender: input.sender,
          conversationId: input.conversationId,
          messageId: input.messageId,
          isOps: input.inOpsChat && input.isAdmin,
          pool,
          spendOf,
          say: (text) => Effect.sync(() => void extra.push(text)),
          startDialog: (slug) => startDialog(input.conversationId, input.sender, slug),
          inviteUrlFor: options.inviteUrlFor,
        }
        const reply = yield* command.run(ctx, parsed.args)
        return [...extra, reply]
      }).pipe(Effect.catchCause((cause) => Effect.logError("router failed", cause).pipe(Effect.as(["Something went wrong on my side. Try again, or say /help."]))))

    return ManagerRouter.of({ handle, startDialog })
  })

export const routerLayer = (options: Parameters<typeof makeRouter>[0]) => Layer.effect(ManagerRouter, makeRouter(options))
