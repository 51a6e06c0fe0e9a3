import { Effect } from "effect"
import type { AgentConversation } from "@convos-agents/contract"
import { withAgent } from "../agents.ts"
import { answer } from "../explain.ts"
import type { Command } from "../types.ts"

// `<conversation>` is how /agent lists the agent's conversations: the number in front of it, or the short id in
// brackets after its name (a prefix of at least 4 characters), so the owner copies either from /agent.

export const conversationShortId = (id: string) => id.slice(0, 8)

/** One numbered line per conversation, as /agent shows them and /leave takes them. */
export const conversationLines = (conversations: ReadonlyArray<AgentConversation>, own: string | null) =>
  conversations.map(
    (c, n) => `  ${n + 1}. ${c.name ?? "(no name)"} [${conversationShortId(c.id)}]${c.id === own ? " (its own)" : ""}`,
  )

/** The conversation `ref` names: its number in the list, or a prefix (≥ 4 characters) of its id. */
export const pickConversation = (conversations: ReadonlyArray<AgentConversation>, ref: string) => {
  const needle = ref.trim().toLowerCase().replace(/^#/, "")
  if (/^\d+$/.test(needle) && needle.length < 4) return conversations[Number(needle) - 1]
  const byId = needle.length >= 4 ? conversations.filter((c) => c.id.toLowerCase().startsWith(needle)) : []
  return byId.length === 1 ? byId[0] : undefined
}

export const leaveCommand: Command = {
  name: "leave",
  args: "<agent> <conversation>",
  help: "make your agent leave one of its conversations; <conversation> is its number or [short id] as /agent <agent> lists them",
  scope: "user",
  minArgs: 2,
  maxArgs: 2,
  run: (ctx, [ref, conversationRef]) =>
    withAgent(ctx, ref!, (agent, name) =>
      answer(
        ctx,
        Effect.gen(function* () {
          const conversations = yield* ctx.pool.conversations(agent.id, ctx.sender)
          const picked = pickConversation(conversations, conversationRef!)
          if (!picked)
            return conversations.length === 0
              ? `${name} is in no conversation.`
              : `${name} has no conversation "${conversationRef!.trim()}". Its conversations (use the number or the [short id]):\n${conversationLines(conversations, agent.conversationId).join("\n")}`
          yield* ctx.pool.leave(agent.id, ctx.sender, picked.id)
          return `${name} left ${picked.name ?? "the conversation"} [${conversationShortId(picked.id)}]; the people there see it go, and it no longer answers there.`
        }),
        (text) => text,
      ),
    ),
}
