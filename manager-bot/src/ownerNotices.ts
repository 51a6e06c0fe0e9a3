import { Effect, Option } from "effect"
import { agentNameForDisplay, type Pool, type PoolEvent } from "@convos-agents/pool-core"
import type { BotStore } from "./store.ts"

// Owner notifications: what happens to a person's agent is said in that person's manager chat, not only in the ops
// chat. Agents claimed over the API (owner "api:<label>") have no manager chat and are left to the API client.

/** The owner's notice for a pool event, or null when the event is none of the owner's business. */
export const ownerNoticeText = (e: PoolEvent): string | null => {
  if (e._tag === "ModelProblem") return modelProblemNotice(e)
  if (e._tag === "InstanceRecovered") {
    const name = agentNameForDisplay(e.agentName, "Your agent")
    return `✅ ${name} [${e.instanceId.slice(0, 8)}] is back up and answering again, with its conversations and memory.`
  }
  if (e._tag === "MoreRequested") {
    const name = agentNameForDisplay(e.agentName, "Your agent")
    return (
      `💳 ${name} [${e.instanceId.slice(0, 8)}] asks for more: its spend is ${e.spend ?? "unknown"}.\n` +
      `Ask the pool's operators to raise its cap (they top agents up). /agent ${e.agentName ? name : e.instanceId.slice(0, 8)} shows its page link.`
    )
  }
  if (e._tag !== "InstanceCrashed" || e.duringSetup) return null // a failed setup is answered by the claim itself
  const name = agentNameForDisplay(e.agentName, "Your agent")
  const ref = e.agentName ? name : e.instanceId.slice(0, 8)
  return (
    `⚠️ ${name} [${e.instanceId.slice(0, 8)}] stopped working: ${e.reason}.\n` +
    `/restart ${ref} starts it again (it keeps its conversations); /agent ${ref} shows its state; ` +
    `/release ${ref} then /new gets you a fresh agent. The operators are told.`
  )
}

/** An agent that cannot think: what its chat was told, and what the owner can do about it. */
const modelProblemNotice = (e: Extract<PoolEvent, { _tag: "ModelProblem" }>) => {
  const name = agentNameForDisplay(e.agentName, "Your agent")
  const ref = e.agentName ? name : e.instanceId.slice(0, 8)
  const what =
    e.kind === "unknown-model"
      ? `/model ${ref} lists the models allowed here; /model ${ref} <model> switches to one.`
      : e.kind === "refused-key"
        ? "The model server refuses the pool's key; the operators are told."
        : "The model server is not answering; the operators are told. It answers again once the server is back."
  return `⚠️ ${name} [${e.instanceId.slice(0, 8)}] cannot think: it told its chat "${e.message}"\n${what}`
}

/** Sends the owner's notice for one event to their manager chat (nothing when there is none or no chat). */
export const notifyOwner =
  (deps: {
    readonly pool: Pool["Service"]
    readonly store: BotStore["Service"]
    readonly send: (conversationId: string, text: string) => Effect.Effect<unknown, unknown>
  }) =>
  (e: PoolEvent) =>
    Effect.gen(function* () {
      const text = ownerNoticeText(e)
      if (text === null || !("instanceId" in e)) return
      yield* tellOwner(deps, e.instanceId, text)
    }).pipe(Effect.catchCause((cause) => Effect.logWarning("manager bot: owner notice not sent", cause)))

/** Sends `text` to the manager chat of the agent's owner; nothing for API and web owners or people without one. */
export const tellOwner = (
  deps: {
    readonly pool: Pool["Service"]
    readonly store: BotStore["Service"]
    readonly send: (conversationId: string, text: string) => Effect.Effect<unknown, unknown>
  },
  instanceId: string,
  text: string,
) =>
  Effect.gen(function* () {
    const agent = yield* deps.pool.get(instanceId)
    if (!agent.claimedBy || agent.claimedBy.startsWith("api:") || agent.claimedBy.startsWith("web:")) return
    const chat = yield* deps.store.chatOf(agent.claimedBy)
    if (Option.isSome(chat)) yield* deps.send(chat.value, text)
  })
