import { answer } from "../explain.ts"
import type { Command } from "../types.ts"

export const reconcileCommand: Command = {
  name: "reconcile",
  args: "",
  help: "run the reconcile tick now",
  scope: "ops",
  minArgs: 0,
  maxArgs: 0,
  run: (ctx) =>
    answer(ctx, ctx.pool.tick, (r) =>
      r.ran
        ? `Tick done in ${r.durationMs} ms: ${r.promoted} ready, ${r.markedDead} dead, ${r.markedCrashed} crashed, ${r.created} started.`
        : "A tick is already running (here or on another replica); try again in a few seconds.",
    ),
}
