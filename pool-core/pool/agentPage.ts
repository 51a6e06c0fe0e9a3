import { Clock, Effect } from "effect"
import { agentPageUrl } from "@convos-agents/contract"
import { InvalidRequest } from "../domain/errors.ts"
import type { Pool, PoolEvent } from "./Pool.ts"

// The agent's own page (served by its runtime, contract/pageLink.ts): the owner's signed link, and the page's "request
// more" button, which reaches the owner in their manager chat as a MoreRequested event (manager-bot ownerNotices.ts).

export const makeAgentPage = (deps: {
  readonly get: Pool["Service"]["get"]
  readonly publish: (e: PoolEvent) => Effect.Effect<void>
  readonly token: (id: string) => string
}): Pick<Pool["Service"], "requestMore" | "pageLink"> => ({
  requestMore: (id, spend) =>
    Effect.gen(function* () {
      const agent = yield* deps.get(id)
      const owner = agent.claimedBy
      if (agent.status !== "claimed" || !owner)
        return yield* new InvalidRequest({
          field: "instance",
          message: "This agent has no owner to ask (it is not claimed); nothing was sent.",
        })
      if (owner.startsWith("api:") || owner.startsWith("web:"))
        return yield* new InvalidRequest({
          field: "instance",
          message: `This agent was claimed ${owner.startsWith("api:") ? "over the API" : "on the web"} (${owner}), so its owner has no manager chat to be asked in; nothing was sent.`,
        })
      yield* deps.publish({ _tag: "MoreRequested", instanceId: id, agentName: agent.agentName, owner, spend })
      return { owner }
    }),
  pageLink: (id) =>
    Effect.gen(function* () {
      const agent = yield* deps.get(id)
      if (!agent.url) return null
      return agentPageUrl(agent.url, deps.token(id), yield* Clock.currentTimeMillis)
    }),
})
