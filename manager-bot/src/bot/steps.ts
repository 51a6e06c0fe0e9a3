import { Effect, Exit, Option } from "effect"
import {
  botCommandDuration,
  botCommandsTotal,
  count,
  measured,
  outcomeOf,
} from "@convos-agents/pool-core/observability"
import { resolveAgent } from "../commands/agents.ts"
import { CommandOutcome, replyFailure } from "../commands/explain.ts"
import { helpText, parseCommand, type PlainArg, usage } from "../commands/parse.ts"
import type { Command, CommandContext } from "../commands/types.ts"
import type { Middleware } from "./context.ts"

// The bot's steps after the rate limits (rateLimit.ts), in chain order: dialog → parse → auth → dispatch.

/** A message with its command read: what auth and dispatch see. */
export interface ParsedContext extends CommandContext {
  readonly command: Command
  readonly args: ReadonlyArray<string>
}

/** A person in a dialog (the /new questions, a transfer to accept): their message goes to the command that asked. */
export const dialogStep =
  (commands: ReadonlyArray<Command>): Middleware<CommandContext> =>
  (ctx, next) =>
    Effect.gen(function* () {
      if (ctx.inOpsChat) return yield* next(ctx)
      const open = yield* ctx.dialogs.get(ctx.conversationId, ctx.sender)
      if (Option.isNone(open)) return yield* next(ctx)
      const owner = commands.find((c) => c.dialog?.kind === open.value.kind)
      if (!owner?.dialog) return yield* next(ctx)
      return yield* owner.dialog.continue(ctx, open.value, next(ctx))
    }).pipe(Effect.catch((e) => replyFailure(ctx, e)))

/** A plain-word command counts only when the word after the alias is a known template or one of the sender's agents. */
const plainArgOk = (ctx: CommandContext, arg: PlainArg | undefined) =>
  !arg
    ? Effect.succeed(true)
    : arg.kind === "template"
      ? ctx.pool.template(arg.value.toLowerCase()).pipe(
          Effect.as(true),
          Effect.catch(() => Effect.succeed(false)),
        )
      : resolveAgent(ctx.pool, ctx.sender, arg.value).pipe(
          Effect.map((r) => r._tag === "Found"),
          Effect.catch(() => Effect.succeed(false)),
        )

/** Reads the command; an unknown word or missing arguments are answered here, with the help of the chat. */
export const parseStep = (commands: ReadonlyArray<Command>): Middleware<CommandContext, ParsedContext> => {
  // One name may be a person's command and an ops command (/agent): each chat reads its own first.
  const inChat = (where: "user" | "ops") => [
    ...commands.filter((c) => c.scope === where || c.scope === "any"),
    ...commands.filter((c) => c.scope !== where && c.scope !== "any"),
  ]
  const ordered = { user: inChat("user"), ops: inChat("ops") }
  return (ctx, next) =>
    Effect.gen(function* () {
      let parsed = parseCommand(ordered[ctx.where], ctx.text)
      if (parsed._tag !== "Unknown" && !(yield* plainArgOk(ctx, parsed.plainArg)))
        parsed = { _tag: "Unknown", word: null }
      if (parsed._tag === "Unknown") {
        const what = parsed.word ? `I don't know /${parsed.word}.` : "I didn't understand that."
        yield* count(botCommandsTotal, { command: "unknown", outcome: "unknown" })
        return yield* ctx.reply(`${what} ${helpText(commands, ctx.where)}`)
      }
      if (parsed._tag === "Usage")
        return yield* ctx.reply(`${parsed.problem} Usage: ${usage(parsed.command)} — ${parsed.command.help}`)
      return yield* next({ ...ctx, command: parsed.command, args: parsed.args })
    })
}

/** Ops commands only in the ops chat and only for admins; a person's commands only in their manager chat. */
export const authStep: Middleware<ParsedContext> = (ctx, next) => {
  const { command } = ctx
  if (command.scope === "ops" && !ctx.isOps) {
    return ctx.reply(
      ctx.inOpsChat
        ? "Only admins can use ops commands."
        : `/${command.name} is an ops command: it only works in the ops chat, for admins.`,
    )
  }
  if (command.scope === "user" && ctx.inOpsChat)
    return ctx.reply(`/${command.name} works in your manager chat, not in the ops chat.`)
  return next(ctx)
}

/**
 * Runs the command, in a span and counted with its latency and outcome (bot_commands_total, /metrics): "ok", or the
 * failure it answered with (CommandOutcome), or how it failed.
 */
export const dispatchStep = (ctx: ParsedContext) => {
  const cell = { failure: null as string | null }
  const outcome = (exit: Exit.Exit<void>) => (Exit.isSuccess(exit) ? (cell.failure ?? "ok") : outcomeOf(exit))
  return ctx.command.run(ctx, ctx.args).pipe(
    Effect.provideService(CommandOutcome, cell),
    (run) =>
      measured(run, { histogram: botCommandDuration, counter: botCommandsTotal }, outcome, {
        command: ctx.command.name,
      }),
    Effect.onExit((exit) => Effect.annotateCurrentSpan("bot.outcome", outcome(exit))),
    Effect.withSpan("bot.command", { attributes: { "bot.command": ctx.command.name, "bot.scope": ctx.where } }),
    Effect.annotateLogs({ command: ctx.command.name, owner: ctx.sender }),
  )
}
