// Which of the agent's messages are dealt with, as far as a restart needs to know (ConvosAgent's stream). Dealt with:
// OpenClaw took its turn over (its own restart recovery resumes a turn a restart cuts off), or it was answered or
// refused. The resume point (`lastSeenMs`) is the oldest message not dealt with yet (one ms before it), else the newest
// seen: a restart streams from there, so messages that were waiting behind a turn and every one sent while the agent
// was down are answered after it. Messages after that point that are dealt with already (out of order: a busy reply is
// at once, the next turn starts only when the running one ends) are kept as `handled` and skipped on the replay, so
// none is answered twice.
import type { AgentState } from "./state.ts"

/**
 * How far below the resume point finished ids are kept: a network that delivers a little out of order (XMTP) may hand
 * over an older message after a newer one finished, which moves the resume point back; its neighbours stay known.
 */
const KEEP_BELOW_MS = 5 * 60_000
/** At most this many finished ids are kept (the oldest go first). */
const KEEP_MAX = 1_000

export interface Progress {
  /** A message of the agent's own (its replies): only moves the newest seen. */
  readonly seen: (sentAtMs: number) => void
  /** Starts dealing with a message: false when it is already done or in hand (a replay), then it is skipped. */
  readonly start: (id: string, sentAtMs: number) => boolean
  /** The message is dealt with; true when it was in hand (the state should be saved). */
  readonly done: (id: string) => boolean
  /** What goes into the saved state. */
  readonly snapshot: () => Pick<AgentState, "lastSeenMs" | "handled">
}

export const makeProgress = (state: Pick<AgentState, "lastSeenMs" | "handled">): Progress => {
  let newest = state.lastSeenMs
  const inHand = new Map<string, number>()
  const finished = new Map<string, number>((state.handled ?? []).map((h) => [h.id, h.sentAtMs] as const))

  const resumeAt = () => (inHand.size > 0 ? Math.min(...inHand.values()) - 1 : newest)

  return {
    seen: (sentAtMs) => {
      newest = Math.max(newest, sentAtMs)
    },
    start: (id, sentAtMs) => {
      if (finished.has(id) || inHand.has(id)) return false
      newest = Math.max(newest, sentAtMs)
      inHand.set(id, sentAtMs)
      return true
    },
    done: (id) => {
      const sentAtMs = inHand.get(id)
      if (sentAtMs === undefined) return false
      inHand.delete(id)
      finished.set(id, sentAtMs)
      return true
    },
    snapshot: () => {
      const lastSeenMs = resumeAt()
      for (const [id, at] of finished) if (at <= lastSeenMs - KEEP_BELOW_MS) finished.delete(id)
      const handled = [...finished]
        .sort((a, b) => a[1] - b[1])
        .slice(-KEEP_MAX)
        .map(([id, sentAtMs]) => ({ id, sentAtMs }))
      return { lastSeenMs, handled }
    },
  }
}
