import { Effect, Result } from "effect"
import { normalizeAgentName } from "@convos-agents/pool-core"
import { withAgent } from "../agents.ts"
import { answerRecorded } from "../explain.ts"
import type { Command } from "../types.ts"

export const nameCommand: Command = {
  name: "name",
  args: "<agent> <new name>",
  help: "rename an agent",
  scope: "user",
  aliases: ["rename"],
  aliasArg: "agent",
  minArgs: 2,
  maxArgs: 2,
  run: (ctx, [ref, name]) =>
    withAgent(ctx, ref!, (agent) => {
      const said = (agentName: string | null) => `Done: your agent is now called ${agentName}.`
      // Recorded before the rename (with the name the pool will store): a takeover after a crash midway, which would
      // no longer find the agent by its old name, finds it renamed and says so, once.
      const normalized = normalizeAgentName(name!)
      const intent = Result.isSuccess(normalized)
        ? ctx.journal.intend(
            { kind: "renamed", instanceId: agent.id, agentName: normalized.success },
            said(normalized.success),
          )
        : Effect.void
      return intent.pipe(
        Effect.andThen(answerRecorded(ctx, ctx.pool.rename(agent.id, ctx.sender, name!), (a) => said(a.agentName))),
      )
    }),
}
