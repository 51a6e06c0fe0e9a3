import { shortId } from "../agents.ts"
import { answer } from "../explain.ts"
import type { Command } from "../types.ts"
import { withInstance } from "./instances.ts"

export const dismissCommand: Command = {
  name: "dismiss",
  args: "<id>",
  help: "remove a crashed or dead instance",
  scope: "ops",
  minArgs: 1,
  maxArgs: 1,
  run: (ctx, [ref]) =>
    withInstance(ctx, ref!, (i) => answer(ctx, ctx.pool.dismiss(i.id), () => `Dismissed ${shortId(i.id)}.`)),
}
