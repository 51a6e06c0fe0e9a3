import { Deferred, Effect, Semaphore } from "effect"

export interface Lanes {
  /**
   * Queues `task` behind the earlier tasks of the same key and returns once it is queued (not done): true. False,
   * without queueing, when that key already has `maxPerKey` tasks queued or running, so one flooding conversation can
   * never take the shared budget from the others. Waits while `maxQueued` tasks are queued or running in all.
   */
  readonly run: (key: string, task: Effect.Effect<void>) => Effect.Effect<boolean>
  /** Keys with a task queued or running (a finished key is forgotten). */
  readonly activeKeys: () => number
}

/**
 * One lane per key (a conversation): tasks of one key run one at a time in arrival order, tasks of different keys
 * run concurrently, at most `concurrency` at once. The tasks run in the caller's scope and stop when it closes.
 */
export const makeLanes = (options: {
  readonly concurrency: number
  readonly maxQueued: number
  readonly maxPerKey?: number
}) =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const running = yield* Semaphore.make(options.concurrency)
    const queued = yield* Semaphore.make(options.maxQueued)
    /** The last task of each key: the next one of that key waits for it. */
    const tails = new Map<string, Deferred.Deferred<void>>()
    /** Tasks queued or running per key. */
    const perKey = new Map<string, number>()
    const maxPerKey = options.maxPerKey ?? Number.POSITIVE_INFINITY

    const run = (key: string, task: Effect.Effect<void>) =>
      Effect.gen(function* () {
        if ((perKey.get(key) ?? 0) >= maxPerKey) return false
        perKey.set(key, (perKey.get(key) ?? 0) + 1)
        yield* queued.take(1)
        const previous = tails.get(key)
        const done = Deferred.makeUnsafe<void>()
        tails.set(key, done)
        const finish = Effect.suspend(() => {
          if (tails.get(key) === done) tails.delete(key)
          const left = (perKey.get(key) ?? 1) - 1
          if (left > 0) perKey.set(key, left)
          else perKey.delete(key)
          return Deferred.succeed(done, undefined).pipe(Effect.andThen(queued.release(1)))
        })
        yield* Effect.gen(function* () {
          if (previous) yield* Deferred.await(previous)
          yield* running.withPermits(1)(task)
        }).pipe(Effect.ensuring(finish), Effect.forkIn(scope))
        return true
      })

    return { run, activeKeys: () => tails.size } satisfies Lanes
  })
