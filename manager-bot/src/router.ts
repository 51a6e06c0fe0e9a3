import { Context, Effect, Layer, Option, Result } from "effect"
import { AgentResources, inputLimits, normalizeAgentName, NotConfigured, Pool } from "@convos-agents/pool-core"
import { makeSpendOf } from "@convos-agents/pool-core/providers/resources/spend.ts"
import { resolveAgent } from "./commands/agents.ts"
import { explain } from "./commands/explain.ts"
import { helpCommand } from "./commands/help.ts"
import { opsCommands } from "./commands/ops.ts"
import { helpText, parseCommand, type PlainArg, usage } from "./commands/parse.ts"
import type { Command, CommandContext } from "./commands/types.ts"
import { userCommands } from "./commands/user.ts"

/** Every command, declared once; /help is generated from this list. */
export const allCommands: ReadonlyArray<Command> = [...userCommands, ...opsCommands, helpCommand(() => allCommands)]
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

/** Sends one message right away (to the chat the input came from). */
export type Say = (text: string) => Effect.Effect<void>

/**
 * The manager bot's brain, independent of transport: one incoming text → the replies to send, in order.
 * With `say`, messages that must go out before a slow step (the "setting up…" line before a claim) are sent through
 * it at once and the result holds only the rest; without it they lead the result. Holds the per-person dialogs and
 * rate limits of this process.
 */
export class ManagerRouter extends Context.Service<ManagerRouter, {
  readonly handle: (input: Incoming, say?: Say) => Effect.Effect<ReadonlyArray<string>>
  /** Starts the /new dialog for someone (a template invite from the web catalog does this on join). */
  readonly startDialog: (conversationId: string, sender: string, templateSlug: string | null) => Effect.Effect<string>
}>()("manager-bot/ManagerRouter") {}

export const makeRouter = (options: { readonly inviteUrlFor: (templateSlug?: string) => string; readonly commandsPerMinute?: number }) =>
  Effect.gen(function* () {
    const pool = yield* Pool
    const spendOf = yield* makeSpendOf
    const resources = yield* Effect.serviceOption(AgentResources)
    const topUp: CommandContext["topUp"] = (instanceId, amountUsd, by) =>
      Option.isSome(resources) ? resources.value.topUp(instanceId, amountUsd, by) : Effect.fail(NotConfigured.create("OpenRouter", "OPENROUTER_MANAGEMENT_KEY"))
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

    const claim = (input: Incoming, d: Dialog, instructions: string | null, say: Say) =>
      Effect.gen(function* () {
        const name = d.name ?? d.defaultName
        yield* say(`Setting up ${name}… this takes a few seconds.`)
        const text = instructions ?? d.defaultInstructions
        const result = yield* pool
          .claim({
            key: `chat:${input.messageId}`,
            claimedBy: input.sender,
            agentName: name,
            ...(text ? { instructions: text } : {}),
            ...(d.templateSlug ? { templateSlug: d.templateSlug } : {}),
          })
          .pipe(Effect.result)
        if (result._tag === "Failure") return [`${explain(result.failure)}\nSay /new${d.templateSlug ? ` ${d.templateSlug}` : ""} to try again (or /help).`]
        const r = result.success
        return [
          `${r.instance.agentName} is ready. Open this link in Convos to start chatting (share it to add others):\n${r.inviteUrl ?? "(no link: it joined a conversation)"}\n` +
            `Manage it with /agents, /name, /instruct, /invite, /join, /release.`,
        ]
      })

    const continueDialog = (input: Incoming, d: Dialog, say: Say) =>
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
          // The one name rule (pool-core/domain/names.ts): line breaks fold into spaces, control characters are refused.
          const named = skip ? Result.succeed(d.defaultName) : normalizeAgentName(text)
          if (Result.isFailure(named)) return [`${named.failure} (/skip keeps "${d.defaultName}", /cancel stops.)`]
          dialogs.set(key, { ...d, step: "instructions", name: named.success })
          return [`Great: ${named.success}. What should it do? Send its instructions in one message (/skip keeps ${d.defaultInstructions ? "the template's" : "the default"} instructions).`]
        }
        // Instructions are data: whatever the person sends (other than /skip, /cancel) is stored as is.
        if (!skip && text.length > inputLimits.instructions) return [`Those instructions are too long (at most ${inputLimits.instructions} characters). Shorten them and send again.`]
        dialogs.delete(key)
        return yield* claim(input, d, skip ? null : text, say)
      })

    /** A plain-word command counts only when the word after the alias is a known template or one of the sender's agents. */
    const plainArgOk = (input: Incoming, arg: PlainArg | undefined) =>
      !arg
        ? Effect.succeed(true)
        : arg.kind === "template"
          ? pool.template(arg.value.toLowerCase()).pipe(Effect.as(true), Effect.catch(() => Effect.succeed(false)))
          : resolveAgent(pool, input.sender, arg.value).pipe(Effect.map((r) => r._tag === "Found"), Effect.catch(() => Effect.succeed(false)))

    const respond = (input: Incoming, say: Say): Effect.Effect<ReadonlyArray<string>> =>
      Effect.gen(function* () {
        // Every message counts against the rate limit, over-long ones too.
        if (!allow(input.sender)) return [`You're sending commands faster than I can take them (at most ${perMinute} a minute). Wait a moment, then try again.`]
        if (input.text.length > MAX_MESSAGE_CHARS) return [`That message is too long for me (${input.text.length} characters; at most ${MAX_MESSAGE_CHARS}). Say /help for what I can do.`]
        const dialog = input.inOpsChat ? undefined : dialogs.get(dialogKey(input.conversationId, input.sender))
        if (dialog) return yield* continueDialog(input, dialog, say)

        const scope = input.inOpsChat ? "ops" : "user"
        let parsed = parseCommand(allCommands, input.text)
        if (parsed._tag !== "Unknown" && !(yield* plainArgOk(input, parsed.plainArg))) parsed = { _tag: "Unknown", word: null }
        if (parsed._tag === "Unknown") {
          const what = parsed.word ? `I don't know /${parsed.word}.` : "I didn't understand that."
          return [`${what} ${helpText(allCommands, scope)}`]
        }
        if (parsed._tag === "Usage") return [`${parsed.problem} Usage: ${usage(parsed.command)} — ${parsed.command.help}`]
        const command = parsed.command
        if (command.scope === "ops" && !(input.inOpsChat && input.isAdmin)) {
          return [input.inOpsChat ? "Only admins can use ops commands." : `/${command.name} is an ops command: it only works in the ops chat, for admins.`]
        }
        if (command.scope === "user" && input.inOpsChat) return [`/${command.name} works in your manager chat, not in the ops chat.`]
        const ctx: CommandContext = {
          sender: input.sender,
          conversationId: input.conversationId,
          messageId: input.messageId,
          isOps: input.inOpsChat && input.isAdmin,
          where: scope,
          pool,
          spendOf,
          topUp,
          say,
          startDialog: (slug) => startDialog(input.conversationId, input.sender, slug),
          inviteUrlFor: options.inviteUrlFor,
        }
        return [yield* command.run(ctx, parsed.args)]
      })

    const handle = (input: Incoming, sayNow?: Say): Effect.Effect<ReadonlyArray<string>> => {
      const early: string[] = []
      const say: Say = sayNow ?? ((text) => Effect.sync(() => void early.push(text)))
      return respond(input, say).pipe(
        Effect.catchCause((cause) => Effect.logError("router failed", cause).pipe(Effect.as(["Something went wrong on my side. Try again, or say /help."]))),
        Effect.map((replies) => (early.length === 0 ? replies : [...early, ...replies]))
      )
    }

    return ManagerRouter.of({ handle, startDialog })
  })

export const routerLayer = (options: Parameters<typeof makeRouter>[0]) => Layer.effect(ManagerRouter, makeRouter(options))
