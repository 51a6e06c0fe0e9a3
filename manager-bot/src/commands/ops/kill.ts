import { shortId } from "../agents.ts"
import { answer } from "../explain.ts"
import type { Command } from "../types.ts"
import { withInstance } from "./instances.ts"

export const killCommand: Command = {
  name: "kill",
  args: "<id>",
  help: "destroy an instance, whatever its state",
  scope: "ops",
  minArgs: 1,
  maxArgs: 1,
  run: (ctx, [ref]) =>
    withInstance(ctx, ref!, (i) =>
      answer(ctx, ctx.pool.kill(i.id), () => `Killed ${shortId(i.id)} (was ${i.status}).`),
    ),
}
