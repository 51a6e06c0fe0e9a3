import { Effect, Option, Result } from "effect"
import { inputLimits, normalizeAgentName, type Progress, type Template } from "@convos-agents/pool-core"
import type { NewAgentDialog } from "../../dialogs/Dialogs.ts"
import { explain, replyFailure } from "../explain.ts"
import { runPendingClaim, sendFinal } from "../../pending/claim.ts"
import type { Command, CommandContext } from "../types.ts"

// /new: a dialog (name, then instructions, each skippable), then the claim. The dialog is kept in the database, so a
// bot restart between the questions continues it.

const DEFAULT_NAME = "Assistant"

type Asker = Pick<CommandContext, "conversationId" | "sender" | "reply" | "dialogs">

/** Starts the /new dialog with a template already read (or none), and asks the first question. */
export const startNewAgentDialog = (ctx: Asker, template: Template | null) =>
  Effect.gen(function* () {
    const defaultName = template?.name ?? DEFAULT_NAME
    yield* ctx.dialogs.set(ctx.conversationId, ctx.sender, {
      kind: "new",
      step: "name",
      templateSlug: template?.slug ?? null,
      defaultName,
      templateInstructions: !!template?.instructions,
    })
    yield* ctx.reply(
      `${template ? `Let's set up a ${template.emoji} ${template.name}. ` : "Let's get you an agent. "}What should it be called? (/skip keeps "${defaultName}", /cancel stops)`,
    )
  })

const seconds = (ms: number) => `${Math.max(1, Math.round(ms / 1000))} s`

/**
 * Claims the agent the dialog described; while none is idle it waits (up to CLAIM_WAIT) and says for how long. The
 * accepted instructions are recorded first (pending/, with the dialog's end, in one transaction): if this process dies
 * before the invite is sent, another one (or this one restarted) resumes the claim under the same key and sends it.
 */
const claim = (ctx: CommandContext, d: NewAgentDialog, instructions: string | null) =>
  Effect.gen(function* () {
    const name = d.name ?? d.defaultName
    const handler = ctx.pool.replica.id
    const accepted = {
      messageId: ctx.messageId,
      conversationId: ctx.conversationId,
      sender: ctx.sender,
      agentName: name,
      instructions,
      templateSlug: d.templateSlug,
    }
    yield* ctx.pending.accept(accepted, handler)
    yield* ctx.reply(`Setting up ${name}… this takes a few seconds.`)
    const onProgress = (p: Progress) =>
      p.step === "wait" && p.status === "active"
        ? ctx.reply(
            `No agent is free right now, so the pool is starting one for you. ${name} will be ready in about ${seconds(p.etaMs ?? 20_000)}; ` +
              "I'll send the link here, nothing to retype.",
          )
        : Effect.void
    const text = yield* runPendingClaim(ctx.pool, ctx.pending, { ...accepted, attempt: 0 }, handler, false, onProgress)
    if (Option.isNone(text)) return
    yield* sendFinal(ctx.pending, handler, ctx.messageId, text.value, (t) =>
      ctx.say ? ctx.say(ctx.conversationId, t) : ctx.reply(t),
    )
  })

/** The person's answer to the current question (or /skip, /cancel). */
const continueNewAgent = (ctx: CommandContext, d: NewAgentDialog) =>
  Effect.gen(function* () {
    const text = ctx.text.trim()
    if (/^\/cancel\b/i.test(text)) {
      // The step and its reply are recorded together: a takeover after a crash sends the reply, never runs it again.
      const cancelled = "Cancelled. Say /new to start again."
      yield* ctx.journal.recordWith(ctx.dialogs.end(ctx.conversationId, ctx.sender), cancelled)
      return yield* ctx.reply(cancelled)
    }
    const skip = /^\/skip\b/i.test(text)
    if (d.step === "name") {
      if (!skip && (text.startsWith("/") || text.length === 0))
        return yield* ctx.reply(`Send a name for your agent, /skip to keep "${d.defaultName}", or /cancel.`)
      // The one name rule (pool-core/domain/names.ts): line breaks fold into spaces, control characters are refused.
      const named = skip ? Result.succeed(d.defaultName) : normalizeAgentName(text)
      if (Result.isFailure(named))
        return yield* ctx.reply(`${named.failure} (/skip keeps "${d.defaultName}", /cancel stops.)`)
      // Run again after the step moved on, the name would be taken for the instructions: recorded with its reply.
      const asked = `Great: ${named.success}. What should it do? Send its instructions in one message (/skip keeps ${d.templateInstructions ? "the template's" : "the default"} instructions).`
      yield* ctx.journal.recordWith(
        ctx.dialogs.set(ctx.conversationId, ctx.sender, { ...d, step: "instructions", name: named.success }),
        asked,
      )
      return yield* ctx.reply(asked)
    }
    // Instructions are data: whatever the person sends (other than /skip, /cancel) is stored as is.
    if (!skip && text.length > inputLimits.instructions) {
      return yield* ctx.reply(
        `Those instructions are too long (at most ${inputLimits.instructions} characters). Shorten them and send again.`,
      )
    }
    return yield* claim(ctx, d, skip ? null : text)
  })

export const newCommand: Command = {
  name: "new",
  args: "[template]",
  help: "get a new agent (asks its name, then its instructions)",
  scope: "user",
  aliases: ["new agent", "get an agent", "new"],
  aliasArg: "template",
  minArgs: 0,
  maxArgs: 1,
  run: (ctx, [slug]) =>
    (slug ? ctx.pool.template(slug.toLowerCase()) : Effect.succeed(null)).pipe(
      Effect.result,
      Effect.flatMap((t) =>
        Result.isSuccess(t)
          ? startNewAgentDialog(ctx, t.success)
          : replyFailure(
              ctx,
              t.failure,
              `${explain(t.failure)}${t.failure._tag === "InvalidRequest" ? "\nSay /templates to see them." : ""}`,
            ),
      ),
      Effect.catch((e) => replyFailure(ctx, e)),
    ),
  dialog: {
    kind: "new",
    continue: (ctx, d) =>
      d.kind === "new" ? continueNewAgent(ctx, d).pipe(Effect.catch((e) => replyFailure(ctx, e))) : Effect.void,
  },
}
