import { Duration, Effect, Option, Result } from "effect"
import type { ClaimResult, OnProgress, Pool } from "@convos-agents/pool-core"
import { explain, noteFailure } from "../commands/explain.ts"
import { claimKey, type PendingClaims, type PendingRow } from "./PendingClaims.ts"

// The claim of a /new whose instructions were accepted, from its pending row to the one text that ends it (the invite
// or why not): the same for the first run (commands/user/new.ts) and for a resumed one (resume.ts).

/** The text that ends a /new with an agent. */
export const readyText = (r: ClaimResult) =>
  `${r.instance.agentName} is ready. Open this link in Convos to start chatting (share it to add others):\n${r.inviteUrl ?? "(no link: it joined a conversation)"}\n` +
  "Manage it with /agent, /agents, /name, /instruct, /invite, /join, /release."

/** The text that ends a /new without one: why, and how to try again. */
export const refusalText = (e: unknown, templateSlug: string | null) =>
  `${explain(e)}\nSay /new${templateSlug ? ` ${templateSlug}` : ""} to try again (or /help).`

/** How often a replay waits for a claim another process is still setting up ("still being processed"). */
const STILL_SETTING_UP_RETRIES = 30
/** Further claims (new keys) a resumed /new makes when the one its earlier run started was cut with that run. */
const CUT_CLAIM_RETRIES = 2

/**
 * Claims the pending /new's agent (waiting up to CLAIM_WAIT when none is idle) and returns its final text; None when
 * another process took the row over meanwhile (it answers). The key is the row's: a replay answers with the agent an
 * earlier run of the same row claimed. `resumed`: an earlier run was cut, so a claim of its that failed ("already
 * failed": its agent crashed with the process setting it up) is made again under the next attempt's key.
 */
export const runPendingClaim = (
  pool: Pool["Service"],
  pending: PendingClaims["Service"],
  row: Pick<PendingRow, "messageId" | "sender" | "agentName" | "instructions" | "templateSlug" | "attempt">,
  handler: string,
  resumed: boolean,
  onProgress?: OnProgress,
) =>
  Effect.gen(function* () {
    let attempt = row.attempt
    let waits = 0
    for (;;) {
      const result = yield* pool
        .claim(
          {
            key: claimKey({ messageId: row.messageId, attempt }),
            claimedBy: row.sender,
            agentName: row.agentName,
            ...(row.instructions ? { instructions: row.instructions } : {}),
            ...(row.templateSlug ? { templateSlug: row.templateSlug } : {}),
            wait: true,
          },
          onProgress,
        )
        .pipe(Effect.result)
      if (Result.isSuccess(result)) return Option.some(readyText(result.success))
      const e = result.failure
      // A replay of a claim still being set up by a process that just died: the tick resolves it shortly.
      if (e._tag === "ProvisionFailed" && e.reason === "timeout" && waits++ < STILL_SETTING_UP_RETRIES) {
        yield* Effect.sleep(Duration.seconds(2))
        continue
      }
      if (
        resumed &&
        e._tag === "ProvisionFailed" &&
        e.reason !== "released" &&
        attempt - row.attempt < CUT_CLAIM_RETRIES
      ) {
        const next = yield* pending.nextAttempt(row.messageId, handler)
        if (Option.isNone(next)) return Option.none<string>()
        // The cut claim's agent (crashed, still the person's) goes: one agent per /new, no namesake left to confuse
        // /name or /release.
        yield* pool.release(e.instanceId, row.sender).pipe(Effect.ignore)
        yield* Effect.logInfo(
          `manager bot: the claim of /new ${row.messageId} was cut with the process running it (${e.message}); claiming again as attempt ${next.value}`,
        )
        attempt = next.value
        continue
      }
      yield* noteFailure(e) // the /new command's outcome (bot_commands_total); nothing in a resumed one
      return Option.some(refusalText(e, row.templateSlug))
    }
  })

/**
 * Sends the final text once: its sending is claimed on the row first (only its holder may send), and the row goes
 * once it is sent. A send that fails leaves the row (its text recorded) for the resumer, which looks for it in the chat
 * before sending it again.
 */
export const sendFinal = (
  pending: PendingClaims["Service"],
  handler: string,
  messageId: string,
  text: string,
  send: (text: string) => Effect.Effect<void, unknown>,
) =>
  Effect.gen(function* () {
    if (!(yield* pending.claimSend(messageId, handler, text))) {
      yield* Effect.logWarning(`manager bot: /new ${messageId} was taken over by another process; it answers it`)
      return
    }
    yield* send(text)
    yield* pending.finish(messageId)
  }).pipe(Effect.ensuring(Effect.sync(() => pending.running.delete(messageId))))
