import { Effect, Option } from "effect"
import { AgentResources, Compute, NotConfigured, Pool, type Template } from "@convos-agents/pool-core"
import { loadDeploymentInfo } from "@convos-agents/pool-core/api/info"
import { makeSpendOf } from "@convos-agents/pool-core/providers/resources"
import { allCommands } from "../commands/index.ts"
import type { BotServices, CommandContext } from "../commands/types.ts"
import { startNewAgentDialog } from "../commands/user/new.ts"
import { Dialogs } from "../dialogs/Dialogs.ts"
import { noJournal } from "../journal.ts"
import { PendingClaims } from "../pending/PendingClaims.ts"
import type { BotContext, Incoming } from "./context.ts"
import { COMMANDS_PER_MINUTE, rateLimit, sizeLimit } from "./rateLimit.ts"
import { authStep, dialogStep, dispatchStep, parseStep } from "./steps.ts"

/** Sends one reply to the chat the message came from. */
export type Reply = (text: string) => Effect.Effect<void>

export interface BotPipelineOptions {
  readonly inviteUrlFor: (templateSlug?: string) => string
  readonly commandsPerMinute?: number
  /** Says something in a person's manager chat (ManagerBot); by default nothing is sent. */
  readonly tell?: (inboxId: string, text: string) => Effect.Effect<void>
  /** The messaging network the bot is on (for /info). */
  readonly network?: string
  /** Sends a text to a chat (ManagerBot: its client), failing when not sent; by default texts go through `reply`. */
  readonly say?: (conversationId: string, text: string) => Effect.Effect<void, unknown>
}

/**
 * The manager bot's brain, independent of transport, as a chain of steps over one context (grammY's shape):
 * rate limit → size limit → dialog → parse → auth → dispatch. Each step answers through `ctx.reply` or passes on.
 */
export const makeBotPipeline = (options: BotPipelineOptions) =>
  Effect.gen(function* () {
    const pool = yield* Pool
    const dialogs = yield* Dialogs
    // ManagerBot provides one shared with its resumer (pending/resume.ts); a bare pipeline (tests, benchmarks) makes its own.
    const shared = yield* Effect.serviceOption(PendingClaims)
    const pending = Option.isSome(shared)
      ? shared.value
      : yield* Effect.provide(Effect.service(PendingClaims), PendingClaims.layer)
    const spendOf = yield* makeSpendOf
    const resources = yield* Effect.serviceOption(AgentResources)
    const compute = yield* Effect.serviceOption(Compute)
    const deployment = yield* Effect.cached(loadDeploymentInfo)
    const services: BotServices = {
      pool,
      dialogs,
      pending,
      ...(options.say ? { say: options.say } : {}),
      spendOf,
      topUp: (instanceId, amountUsd, by, key) =>
        Option.isSome(resources)
          ? resources.value.topUp(instanceId, amountUsd, by, key)
          : Effect.fail(NotConfigured.create("OpenRouter", "OPENROUTER_MANAGEMENT_KEY")),
      inviteUrlFor: options.inviteUrlFor,
      tell: options.tell ?? (() => Effect.void),
      heldBy: (instanceId) => (Option.isSome(resources) ? resources.value.held(instanceId) : Effect.succeed([])),
      about: deployment.pipe(
        Effect.map((d) => ({
          version: d.version,
          commit: d.commit,
          environment: d.environment,
          network: options.network ?? "unknown",
          compute: Option.match(compute, { onNone: () => "none", onSome: (c) => c.name }),
          model: d.model,
        })),
      ),
    }
    const limit = rateLimit(options.commandsPerMinute ?? COMMANDS_PER_MINUTE)
    const dialog = dialogStep(allCommands)
    const parse = parseStep(allCommands)

    const withServices = (ctx: BotContext): CommandContext => ({
      ...ctx,
      ...services,
      where: ctx.inOpsChat ? "ops" : "user",
      isOps: ctx.inOpsChat && ctx.isAdmin,
    })

    /** Answers one message through `reply`; nothing a person types makes it fail. */
    const handle = (input: Incoming, reply: Reply): Effect.Effect<void> => {
      const ctx: BotContext = { ...input, reply, journal: input.journal ?? noJournal }
      return limit(ctx, (c) =>
        sizeLimit(c, (c) => dialog(withServices(c), (c) => parse(c, (c) => authStep(c, dispatchStep)))),
      ).pipe(
        Effect.catchCause((cause) =>
          Effect.logError("manager bot: a step failed", cause).pipe(
            Effect.andThen(reply("Something went wrong on my side. Try again, or say /help.")),
          ),
        ),
      )
    }

    /** Starts /new for someone with a template (a template invite from the web catalog does this on join). */
    const startDialog = (conversationId: string, sender: string, templateSlug: string, reply: Reply) =>
      pool.template(templateSlug).pipe(
        Effect.map((t): Template | null => t),
        Effect.catch(() => Effect.succeed(null)),
        Effect.flatMap((t) => startNewAgentDialog({ conversationId, sender, reply, dialogs }, t)),
        Effect.catchCause((cause) => Effect.logWarning("manager bot: /new not started on join", cause)),
      )

    return { handle, startDialog }
  })

export type BotPipeline = Effect.Success<ReturnType<typeof makeBotPipeline>>

/** Collects the replies to one message instead of sending them (tests, benchmarks). */
export const repliesTo = (bot: BotPipeline, input: Incoming) =>
  Effect.gen(function* () {
    const replies: string[] = []
    yield* bot.handle(input, (text) => Effect.sync(() => void replies.push(text)))
    return replies as ReadonlyArray<string>
  })
