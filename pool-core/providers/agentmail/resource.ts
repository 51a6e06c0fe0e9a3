import { Effect } from "effect"
import type { ResourceProvider } from "../resources/ResourceProvider.ts"
import { AgentMail } from "./AgentMail.ts"

/** An inbox per agent. It stays with the pool (the agent mails through the agent service API). */
export const agentMailResource = Effect.map(
  Effect.service(AgentMail),
  (agentMail): ResourceProvider => ({
    name: "agentmail",
    configured: agentMail.configured,
    take: (instanceId) => Effect.map(agentMail.createInbox(instanceId), (i) => ({ externalId: i.inboxId, env: {} })),
    record: "rows",
    free: (_instanceId, inboxId) => agentMail.deleteInbox(inboxId),
  }),
)
