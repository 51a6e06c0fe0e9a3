import { Effect } from "effect"
import type { HeldResource } from "@convos-agents/pool-core"
import { type SpendLookup, spendText } from "@convos-agents/pool-core/providers/resources"
import type { Instance, ModelSettings } from "@convos-agents/pool-core"
import { shortId, withAgent } from "../agents.ts"
import type { AgentConversation } from "@convos-agents/contract"
import { modelOf } from "./model.ts"
import { conversationLines } from "./leave.ts"
import { answer } from "../explain.ts"
import type { Command } from "../types.ts"

const STATUS: Record<string, string> = {
  claimed: "running",
  claiming: "setting up",
  crashed: "crashed (it stopped answering)",
}

/** Instructions can be long: the first 600 characters, and how much more there is. */
const excerpt = (text: string | null) => {
  if (!text) return "(the default)"
  return text.length <= 600 ? text : `${text.slice(0, 600)}… (${text.length - 600} more characters)`
}

const held = (resources: ReadonlyArray<HeldResource>, provider: HeldResource["provider"]) =>
  resources.filter((r) => r.provider === provider).map((r) => r.externalId)[0] ?? "none"

/**
 * The detail view, one fact per line. Each line is a function of what was looked up, so a new fact (the model, say)
 * is one more entry here.
 */
export const agentDetail = (
  i: Instance,
  resources: ReadonlyArray<HeldResource>,
  spend: SpendLookup | undefined,
  pageLink: string | null = null,
  models?: ModelSettings,
  conversations: ReadonlyArray<AgentConversation> | null = null,
) =>
  [
    `${i.agentName ?? "(unnamed)"} [${shortId(i.id)}]`,
    `status: ${STATUS[i.status] ?? i.status}${i.status === "crashed" && i.lastError ? ` — ${i.lastError}` : ""}`,
    `template: ${i.templateSlug ?? "none"}`,
    `model: ${modelOf(i, models)}`,
    `email: ${held(resources, "agentmail")}`,
    `phone: ${held(resources, "telnyx")}`,
    `wallet: ${resources.find((r) => r.provider === "wallet" || r.provider === "bankr")?.externalId ?? "none"}`,
    `spend: ${spend === undefined ? "—" : spendText(spend)}`,
    // The running agent's own list (numbered as /leave takes them); the recorded one when it could not be asked.
    conversations
      ? `conversations${conversations.length === 0 ? ": none" : ` (/leave ${i.agentName ?? shortId(i.id)} <number> to leave one):\n${conversationLines(conversations, i.conversationId).join("\n")}`}${i.inviteUrl ? `\n  invite: ${i.inviteUrl}` : ""}`
      : `conversations: ${i.joinUrl ? "one it joined by invite" : "its own"}${i.conversationId ? ` (${i.conversationId})` : ""}${i.inviteUrl ? `\n  invite: ${i.inviteUrl}` : ""}`,
    `instructions:\n${excerpt(i.instructions)}`,
    // The agent's own page (invite QR, email, phone, spend, "request more"): signed for this owner, valid 24 hours.
    ...(pageLink && i.status === "claimed" ? [`page (yours only, valid 24 h): ${pageLink}`] : []),
  ].join("\n")

export const agentCommand: Command = {
  name: "agent",
  args: "<agent>",
  help: "everything about one of your agents: state, template, model, instructions, email, phone, wallet, spend, its conversations (numbered, as /leave takes them), and a link to its own page",
  scope: "user",
  aliasArg: "agent",
  minArgs: 1,
  maxArgs: 1,
  run: (ctx, [ref]) =>
    withAgent(ctx, ref!, (agent) =>
      answer(
        ctx,
        Effect.all({
          fresh: ctx.pool.get(agent.id),
          resources: ctx.heldBy(agent.id),
          spend: ctx.spendOf([agent.id]).pipe(Effect.map((m) => m.get(agent.id))),
          pageLink: ctx.pool.pageLink(agent.id),
          // Only a running agent can say where it is; without an answer the view shows what the pool recorded.
          conversations:
            agent.status === "claimed"
              ? ctx.pool.conversations(agent.id, ctx.sender).pipe(Effect.orElseSucceed(() => null))
              : Effect.succeed(null),
        }),
        ({ fresh, resources, spend, pageLink, conversations }) =>
          agentDetail(fresh, resources, spend, pageLink, ctx.pool.models, conversations),
      ),
    ),
}
