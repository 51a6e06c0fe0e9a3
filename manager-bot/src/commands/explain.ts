import { Context, Effect, Option } from "effect"
import type { CommandContext } from "./types.ts"

/** Every failure becomes one clear reply; nothing a person types can crash the bot. */
export const explain = (e: unknown): string => {
  const tagged = e as { _tag?: string; message?: string; status?: number | null; operation?: string }
  switch (tagged?._tag) {
    case "NoAgentAvailable":
      return tagged.message ?? "No agent is free right now, and none became ready in time. Say /new to try again."
    case "QuotaExceeded": {
      const limit = (e as { limit?: number }).limit ?? 0
      return `You already have ${limit} agent${limit === 1 ? "" : "s"}, the most one person can have. Release one you no longer need with /release <agent> (/agents lists yours), then ask again.`
    }
    case "InstanceNotFound":
      return "I can't find that agent among yours. Say /agents to see them."
    case "InvalidRequest":
    case "ProvisionFailed":
    case "StaleTransition":
    case "NotConfigured":
    case "ResourceConflict":
    case "UpgradeRefused":
      return tagged.message ?? "That did not work."
    case "ProviderError":
      // The agent answered and refused (a 4xx): waiting will not help, a different input might.
      if (typeof tagged.status === "number" && tagged.status >= 400 && tagged.status < 500) {
        return (
          `That did not work: ${tagged.message} ` +
          (tagged.operation === "join"
            ? 'Check the invite link (copy it again from "Share" in Convos) and try again.'
            : "Try something else, or say /help.")
        )
      }
      return `The agent did not answer: ${tagged.message}. Try again in a minute; if it keeps failing, /release it and make a new one.`
    case "AvatarNotPlaced": {
      // The agent kept the picture (and any other change); say how far it got and what would help.
      const { reached = 0, total = 0, reason } = e as { reached?: number; total?: number; reason?: string }
      const where = `Not done: the new picture reached ${reached} of your agent's ${total} conversations`
      return reason === "not_allowed"
        ? `${where}; in the others it is not allowed to change the conversation's details, which a picture needs. Ask an admin there to allow it, then send /avatar again.`
        : `${where}; uploading it for the others failed. Try /avatar again in a few minutes.`
    }
    case "DatabaseError":
      return "Something went wrong on my side (database). Try again in a moment."
    default:
      return "Something went wrong on my side. Try again, or say /help."
  }
}

/**
 * How the command being answered turned out, for bot_commands_total and the bot.command span (bot/steps.ts
 * dispatchStep provides a fresh one per command). Commands answer their failures instead of failing, so without this
 * a refused command would count as "ok".
 */
export class CommandOutcome extends Context.Service<CommandOutcome, { failure: string | null }>()(
  "manager-bot/CommandOutcome",
) {}

/** Records that the command failed with `e` (counted under its tag, e.g. StaleTransition); a no-op outside a command. */
export const noteFailure = (e: unknown): Effect.Effect<void> =>
  Effect.map(Effect.serviceOption(CommandOutcome), (cell) => {
    if (Option.isSome(cell)) {
      const tag = (e as { _tag?: unknown } | null)?._tag
      cell.value.failure = typeof tag === "string" ? tag : "error"
    }
  })

/** The failure explained in the chat, and noted as the command's outcome. */
export const replyFailure = (ctx: CommandContext, e: unknown, text: string = explain(e)): Effect.Effect<void> =>
  Effect.andThen(noteFailure(e), ctx.reply(text))

/** The success text, or the failure explained; a defect is logged and explained as "something went wrong". */
export const replyOr = <A>(effect: Effect.Effect<A, unknown>, onSuccess: (a: A) => string): Effect.Effect<string> =>
  effect.pipe(
    Effect.map(onSuccess),
    Effect.catchCause((cause) =>
      Effect.gen(function* () {
        const failure = cause.reasons.find((r) => r._tag === "Fail") as { error?: unknown } | undefined
        if (!failure) yield* Effect.logError("command failed", cause)
        yield* noteFailure(failure ? failure.error : { _tag: "defect" })
        return explain(failure?.error)
      }),
    ),
  )

/** replyOr, sent: the usual end of a command. */
export const answer = <A>(
  ctx: CommandContext,
  effect: Effect.Effect<A, unknown>,
  onSuccess: (a: A) => string,
): Effect.Effect<void> => replyOr(effect, onSuccess).pipe(Effect.flatMap(ctx.reply))

/**
 * answer, for a command that changes something: the reply is recorded (ctx.journal) as soon as the effect is done and
 * before it is sent, so a takeover after a crash sends it instead of running the command again.
 */
export const answerRecorded = <A>(
  ctx: CommandContext,
  effect: Effect.Effect<A, unknown>,
  onSuccess: (a: A) => string,
): Effect.Effect<void> => replyOr(effect, onSuccess).pipe(Effect.tap(ctx.journal.record), Effect.flatMap(ctx.reply))
