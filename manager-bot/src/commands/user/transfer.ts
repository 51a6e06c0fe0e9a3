import { Effect, Option } from "effect"
import type { TransferDialog } from "../../dialogs/Dialogs.ts"
import { DIALOG_TTL_MINUTES } from "../../dialogs/Dialogs.ts"
import { shortId, withAgent } from "../agents.ts"
import { explain } from "../explain.ts"
import type { Command, CommandContext } from "../types.ts"

// /transfer gives an agent to another member of this chat; the offer waits (bot_dialogs, as the recipient's dialog)
// until they /accept or /decline, for DIALOG_TTL_MINUTES. Nothing moves before they accept; the pool then checks that
// the giver still owns it and the new owner's AGENTS_PER_OWNER (Pool.transfer).

/** The other people in this chat (not the sender, not the bot). */
const othersHere = (ctx: CommandContext) =>
  ctx.membersOf(ctx.conversationId).pipe(Effect.map((all) => all.filter((m) => m !== ctx.sender)))

const offer = (ctx: CommandContext, instanceId: string, name: string, to: string) =>
  Effect.gen(function* () {
    const open = yield* ctx.dialogs.get(ctx.conversationId, to)
    if (Option.isSome(open) && open.value.kind === "new")
      return yield* ctx.reply(`${shortId(to)} is setting up an agent right now; offer ${name} once they are done.`)
    const dialog: TransferDialog = { kind: "transfer", instanceId, agentName: name, from: ctx.sender }
    yield* ctx.dialogs.set(ctx.conversationId, to, dialog)
    return yield* ctx.reply(
      `Offered ${name} to ${shortId(to)}. ${shortId(to)}: say /accept to take it or /decline, within ${DIALOG_TTL_MINUTES} minutes. ` +
        `Until then ${name} stays with its owner.`,
    )
  })

export const transferCommand: Command = {
  name: "transfer",
  args: "<agent> [member]",
  help: "give an agent to another member of this chat (they /accept it)",
  scope: "user",
  aliasArg: "agent",
  minArgs: 1,
  maxArgs: 2,
  run: (ctx, [ref, member]) =>
    withAgent(ctx, ref!, (agent, name) =>
      Effect.gen(function* () {
        const others = yield* othersHere(ctx)
        if (others.length === 0) {
          const link = ctx.chatInviteUrl(ctx.conversationId)
          return yield* ctx.reply(
            `Only someone in this chat can take ${name}, and nobody else is here.` +
              (link
                ? ` Send this link to the person you want to give it to; once they are in, say /transfer ${name} again:\n${link}`
                : ""),
          )
        }
        const wanted = member?.trim().toLowerCase()
        const matches = wanted ? others.filter((m) => m.toLowerCase().startsWith(wanted) && wanted.length >= 4) : others
        if (matches.length !== 1)
          return yield* ctx.reply(
            `${wanted ? `Nobody here has an id starting with "${member}".` : "Several people are in this chat."} ` +
              `Say /transfer ${name} <member> with one of: ${others.map(shortId).join(", ")}.`,
          )
        return yield* offer(ctx, agent.id, name, matches[0]!)
      }).pipe(Effect.catch((e) => ctx.reply(explain(e)))),
    ),
}

/** The recipient's answer to an open offer: /accept takes the agent (if the giver still has it), /decline ends it. */
const answerOffer = (ctx: CommandContext, d: TransferDialog, next: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const text = ctx.text.trim()
    if (/^\/decline\b/i.test(text)) {
      yield* ctx.dialogs.end(ctx.conversationId, ctx.sender)
      return yield* ctx.reply(`Declined: ${d.agentName} stays with ${shortId(d.from)}.`)
    }
    if (!/^\/accept\b/i.test(text)) return yield* next
    const moved = yield* Effect.result(ctx.pool.transfer(d.instanceId, d.from, ctx.sender))
    if (moved._tag === "Failure") {
      const e = moved.failure
      // Over their limit the offer stays open (release one, then /accept again); otherwise it is gone for good.
      if (e._tag !== "QuotaExceeded") yield* ctx.dialogs.end(ctx.conversationId, ctx.sender)
      return yield* ctx.reply(
        e._tag === "InstanceNotFound"
          ? `${d.agentName} is no longer ${shortId(d.from)}'s to give (released or given to someone else).`
          : `${explain(e)}${e._tag === "QuotaExceeded" ? ` The offer of ${d.agentName} stays open until it expires.` : ""}`,
      )
    }
    yield* ctx.dialogs.end(ctx.conversationId, ctx.sender)
    return yield* ctx.reply(
      `${d.agentName} is yours now, ${shortId(ctx.sender)}: /agent ${shortId(d.instanceId)} shows it. ` +
        `Notices about it go to your own manager chat (open ${ctx.inviteUrlFor()} if you have none).`,
    )
  }).pipe(Effect.catch((e) => ctx.reply(explain(e))))

export const acceptCommand: Command = {
  name: "accept",
  args: "",
  help: "take an agent someone offered you here with /transfer",
  scope: "user",
  minArgs: 0,
  maxArgs: 0,
  run: (ctx) =>
    ctx.reply(`Nobody has offered you an agent in this chat (an offer lasts ${DIALOG_TTL_MINUTES} minutes).`),
  dialog: {
    kind: "transfer",
    continue: (ctx, d, next) => (d.kind === "transfer" ? answerOffer(ctx, d, next) : next),
  },
}

export const declineCommand: Command = {
  name: "decline",
  args: "",
  help: "turn down an agent offered to you with /transfer",
  scope: "user",
  minArgs: 0,
  maxArgs: 0,
  run: (ctx) => ctx.reply("There is no offer to decline here."),
}
