// Agent turns of one agent, bounded: one turn runs at a time (each is an LLM session of the same agent; its
// conversations are answered in arrival order), at most `maxWaiting` wait behind it, oldest first. A message beyond
// that is refused at once (the caller sends a "busy" reply) instead of piling up model calls and memory without end.

export interface TurnQueue {
  /** Queues the turn: false (nothing queued) when `maxWaiting` turns are already waiting behind the running one. */
  readonly offer: (turn: () => Promise<void>) => boolean
  /** Turns waiting (not counting the running one). */
  readonly waiting: () => number
  /** Whether a turn is running. */
  readonly busy: () => boolean
}

export const makeTurnQueue = (options: {
  readonly maxWaiting: number
  readonly onError?: (e: unknown) => void
}): TurnQueue => {
  const waiting: Array<() => Promise<void>> = []
  let running = false

  const runNext = (): void => {
    const next = waiting.shift()
    if (!next) {
      running = false
      return
    }
    running = true
    // A turn's own failure never stops the queue.
    void next()
      .catch((e: unknown) => options.onError?.(e))
      .finally(runNext)
  }

  return {
    offer: (turn) => {
      if (!running) {
        waiting.push(turn)
        runNext()
        return true
      }
      if (waiting.length >= options.maxWaiting) return false
      waiting.push(turn)
      return true
    },
    waiting: () => waiting.length,
    busy: () => running,
  }
}
