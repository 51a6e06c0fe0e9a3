import { randomBytes } from "node:crypto"
import { Effect, Option } from "effect"
import { DIALOG_TTL_MINUTES, type TransferDialog } from "../../dialogs/Dialogs.ts"
import { shortId, withAgent } from "../agents.ts"
import { explain, replyFailure } from "../explain.ts"
import type { Command, CommandContext } from "../types.ts"

// /transfer gives an agent to someone else. Manager chats are private (only their owner can enter one), so the offer
// is a one-time code the owner passes on; the other person says /accept <code> (or /decline <code>) in their own
// manager chat within DIALOG_TTL_MINUTES. The offer is kept with the dialogs (bot_dialogs, under the key
// "transfer-offer:<code>", so it expires with the dialog TTL and survives a restart). Nothing moves before /accept;
// the pool then checks that the giver still owns it and the new owner's AGENTS_PER_OWNER (Pool.transfer).

const offerKey = (code: string) => `transfer-offer:${code.trim().toLowerCase()}`
const OFFER = "offer"
/** 80 random bits as 20 hex digits: easy to copy, not guessable within the rate limit. */
const newCode = () => randomBytes(10).toString("hex")
const CODE = /^[0-9a-f]{20}$/i

export const transferCommand: Command = {
  name: "transfer",
  args: "<agent>",
  help: "give an agent to someone else: they /accept the code I give you",
  scope: "user",
  aliasArg: "agent",
  minArgs: 1,
  maxArgs: 1,
  run: (ctx, [ref]) =>
    withAgent(ctx, ref!, (agent, name) =>
      Effect.gen(function* () {
        const code = newCode()
        const offer: TransferDialog = { kind: "transfer", instanceId: agent.id, agentName: name, from: ctx.sender }
        const said =
          `To give ${name} to someone, send them this code. They say /accept ${code} in their own chat with me ` +
          `(they open ${ctx.inviteUrlFor()} if they have none) within ${DIALOG_TTL_MINUTES} minutes.\n` +
          `${name} stays yours until they accept; whoever has the code can take it, so share it only with them.`
        // The offer and its reply in one transaction: a takeover sends this code rather than making a second one.
        yield* ctx.journal.recordWith(ctx.dialogs.set(offerKey(code), OFFER, offer), said)
        return yield* ctx.reply(said)
      }).pipe(Effect.catch((e) => replyFailure(ctx, e))),
    ),
}

/** The open offer under `code`, or the reply that there is none. */
const withOffer = (ctx: CommandContext, code: string, then: (offer: TransferDialog) => Effect.Effect<void, unknown>) =>
  Effect.gen(function* () {
    const found = CODE.test(code.trim()) ? yield* ctx.dialogs.get(offerKey(code), OFFER) : Option.none()
    if (Option.isNone(found) || found.value.kind !== "transfer")
      return yield* ctx.reply(
        `There is no open offer with that code (an offer lasts ${DIALOG_TTL_MINUTES} minutes and is taken once).`,
      )
    return yield* then(found.value)
  }).pipe(Effect.catch((e) => replyFailure(ctx, e)))

export const acceptCommand: Command = {
  name: "accept",
  args: "<code>",
  help: "take an agent someone offered you with /transfer",
  scope: "user",
  minArgs: 1,
  maxArgs: 1,
  run: (ctx, [code]) =>
    withOffer(ctx, code!, (offer) =>
      Effect.gen(function* () {
        const yours = `${offer.agentName} is yours now: /agent ${shortId(offer.instanceId)} shows it, /invite ${shortId(offer.instanceId)} its link.`
        // Recorded before the transfer: a takeover after a crash midway finds the agent the recipient's and says so,
        // instead of answering that the (ended) offer does not exist.
        const accepted = `${offer.agentName} was accepted by ${shortId(ctx.sender)}: it is theirs now.`
        yield* ctx.journal.intend({ kind: "transferred", instanceId: offer.instanceId }, yours, {
          inboxId: offer.from,
          text: accepted,
        })
        const moved = yield* Effect.result(ctx.pool.transfer(offer.instanceId, offer.from, ctx.sender))
        if (moved._tag === "Failure") {
          const e = moved.failure
          const said =
            e._tag === "InstanceNotFound"
              ? `${offer.agentName} is no longer its owner's to give (released, or given to someone else).`
              : `${explain(e)}${e._tag === "QuotaExceeded" ? ` The offer of ${offer.agentName} stays open until it expires.` : ""}`
          // Over their limit the offer stays open (release one, then /accept again); otherwise it is gone for good.
          if (e._tag !== "QuotaExceeded" && e._tag !== "DatabaseError")
            yield* ctx.journal.recordWith(ctx.dialogs.end(offerKey(code!), OFFER), said)
          return yield* replyFailure(ctx, e, said)
        }
        yield* ctx.journal.recordWith(ctx.dialogs.end(offerKey(code!), OFFER), yours)
        // After the outcome: a takeover that finds no outcome tells the giver (from the intent), so they hear it once.
        yield* ctx.tell(offer.from, accepted)
        return yield* ctx.reply(yours)
      }),
    ),
}

export const declineCommand: Command = {
  name: "decline",
  args: "<code>",
  help: "turn down an agent offered to you with /transfer",
  scope: "user",
  minArgs: 1,
  maxArgs: 1,
  run: (ctx, [code]) =>
    withOffer(ctx, code!, (offer) =>
      Effect.gen(function* () {
        const said = `Declined: ${offer.agentName} stays with its owner.`
        // The offer's end and this reply in one transaction: a takeover sends it instead of "no open offer".
        yield* ctx.journal.recordWith(ctx.dialogs.end(offerKey(code!), OFFER), said)
        yield* ctx.tell(offer.from, `${shortId(ctx.sender)} declined ${offer.agentName}; it stays yours.`)
        return yield* ctx.reply(said)
      }),
    ),
}
