import { Deferred, Effect } from "effect"
import { agentNameForDisplay, type Progress, type UpgradeReport } from "@convos-agents/pool-core"
import { shortId } from "../agents.ts"
import { replyOr } from "../explain.ts"
import type { Command, CommandContext } from "../types.ts"

// /upgrade: the rolling upgrade (Pool.upgrade). It runs in the background, so the ops chat stays usable meanwhile
// (a claimed agent takes as long as its restart): the chat gets the start line, each failure as it happens, each
// claimed agent back, and the report. A second /upgrade meanwhile gets the pool's refusal.

const seconds = (ms: number) => `${Math.max(1, Math.round(ms / 1000))} s`

export const upgradeReport = (r: UpgradeReport): string => {
  const restarted = r.idle.restarted + r.claimed.restarted
  const head = `Upgrade done in ${seconds(r.durationMs)}: ${restarted} restarted on the new runtime (${r.idle.restarted} idle, ${r.claimed.restarted} claimed)`
  if (r.failures.length === 0) return `✅ ${head}, none failed.`
  const lines = r.failures.map(
    (f) =>
      `• ${f.was === "claimed" ? agentNameForDisplay(f.agentName, "(unnamed)") : "idle"} [${shortId(f.instanceId)}]: ${f.reason}` +
      (f.was === "claimed"
        ? " (it stays with its owner; if it does not answer, the tick marks it crashed and its owner can /restart it)"
        : " (the pool replaces it)"),
  )
  return `⚠️ ${head}, ${r.failures.length} failed (not retried):\n${lines.join("\n")}`
}

/** The pool's progress, as far as the ops chat needs it (idle ones come back at once: only their failures). */
const progressLine = (p: Progress): string | null => {
  if (p.step === "upgrade" && p.status === "active") return `Upgrade started: ${p.message}. I'll report here.`
  if ((p.step === "upgrade-idle" || p.step === "upgrade-claimed") && p.status === "fail") return `⚠️ ${p.message}`
  if (p.step === "upgrade-claimed" && p.status === "ok") return p.message
  return null
}

const run = (ctx: CommandContext) =>
  Effect.gen(function* () {
    // Answered once the upgrade has begun (or was refused), so a /upgrade right after this one meets it running.
    const begun = yield* Deferred.make<void>()
    const onProgress = (p: Progress) => {
      const line = progressLine(p)
      return (line ? ctx.reply(line) : Effect.void).pipe(
        Effect.andThen(p.step === "upgrade" ? Deferred.succeed(begun, undefined) : Effect.void),
        Effect.asVoid,
      )
    }
    yield* replyOr(ctx.pool.upgrade(onProgress), upgradeReport).pipe(
      Effect.flatMap(ctx.reply),
      Effect.ensuring(Deferred.succeed(begun, undefined)),
      Effect.forkDetach,
    )
    yield* Deferred.await(begun)
  })

export const upgradeCommand: Command = {
  name: "upgrade",
  args: "",
  help: "restart every agent on the new runtime: idle ones at once, claimed ones one at a time with their state kept",
  scope: "ops",
  minArgs: 0,
  maxArgs: 0,
  run,
}
