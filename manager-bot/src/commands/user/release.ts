import { Effect } from "effect"
import { withAgent } from "../agents.ts"
import { answerRecorded } from "../explain.ts"
import type { Command } from "../types.ts"

export const releaseCommand: Command = {
  name: "release",
  args: "<agent>",
  help: "give an agent back (it is shut down for good)",
  scope: "user",
  aliases: ["release"],
  aliasArg: "agent",
  minArgs: 1,
  maxArgs: 1,
  run: (ctx, [ref]) =>
    withAgent(ctx, ref!, (agent, name) => {
      const done = `${name} was released and shut down.`
      // Recorded before the release: a takeover after a crash midway finds the agent gone and says so, once.
      return ctx.journal
        .intend({ kind: "released", instanceId: agent.id }, done)
        .pipe(Effect.andThen(answerRecorded(ctx, ctx.pool.release(agent.id, ctx.sender), () => done)))
    }),
}
