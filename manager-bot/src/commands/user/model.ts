import { Effect } from "effect"
import type { Instance, ModelSettings } from "@convos-agents/pool-core"
import { withAgent } from "../agents.ts"
import { answerRecorded } from "../explain.ts"
import type { Command } from "../types.ts"

/** The model an agent thinks with: its own (template or /model), else the configured one. */
export const modelOf = (i: Instance, models?: ModelSettings) => i.model ?? models?.configured ?? "none configured"

const allowedLine = (models: ModelSettings) =>
  models.allowed.length === 0 ? "No model is configured here." : `Allowed: ${models.allowed.join(", ")}.`

export const modelCommand: Command = {
  name: "model",
  args: "<agent> <model>",
  help: "switch the model an agent thinks with (from its next message; /model <agent> alone shows which ones are allowed)",
  scope: "user",
  aliasArg: "agent",
  minArgs: 1,
  maxArgs: 2,
  run: (ctx, [ref, model]) =>
    withAgent(ctx, ref!, (agent, name) =>
      model === undefined
        ? ctx.reply(`${name} thinks with ${modelOf(agent, ctx.pool.models)}. ${allowedLine(ctx.pool.models)}`)
        : answerRecorded(
            ctx,
            ctx.pool.setModel(agent.id, ctx.sender, model),
            (a) => `Done: ${name} thinks with ${modelOf(a, ctx.pool.models)} from its next message.`,
          ),
    ).pipe(Effect.asVoid),
}
