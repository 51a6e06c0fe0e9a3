import { Deferred, Effect, Exit, Queue, type Scope } from "effect"

// Group commit for hot single-row statements: concurrent callers' items are taken off one queue in batches and
// written by one statement per batch, so 64 concurrent claims cost a handful of round trips and commits instead
// of 64. Each caller still gets its own result (or error).

interface Pending<I, O, E> {
  readonly item: I
  readonly result: Deferred.Deferred<O, E>
}

export interface BatcherOptions {
  /** Largest batch one statement handles. */
  readonly maxBatch: number
  /** Batches in flight at once (each holds one database connection while it runs). */
  readonly workers: number
}

/**
 * `run` answers a batch with one Exit per item, in order. It runs uninterruptibly: a statement that may already
 * have committed must report back to its callers. When the scope closes, items still queued fail with `onClosed`, and
 * so does every item offered after that.
 */
export const makeBatcher = <I, O, E>(
  run: (items: ReadonlyArray<I>) => Effect.Effect<ReadonlyArray<Exit.Exit<O, E>>>,
  onClosed: () => E,
  options: BatcherOptions,
): Effect.Effect<(item: I) => Effect.Effect<O, E>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const queue = yield* Queue.unbounded<Pending<I, O, E>>()

    const worker = Effect.gen(function* () {
      while (true) {
        const batch = yield* Queue.takeBetween(queue, 1, options.maxBatch)
        // A defect in `run` answers every caller of the batch with it; a worker never leaves a caller waiting.
        yield* Effect.exit(run(batch.map((p) => p.item))).pipe(
          Effect.flatMap((exits) =>
            Effect.forEach(
              batch,
              (p, i) =>
                Deferred.done(
                  p.result,
                  Exit.isSuccess(exits)
                    ? (exits.value[i] ?? Exit.die(new Error("batch returned too few results")))
                    : (exits as Exit.Exit<never>),
                ),
              { discard: true },
            ),
          ),
          Effect.uninterruptible,
        )
      }
    })
    for (let w = 0; w < options.workers; w++) yield* Effect.forkScoped(worker)

    // Nobody waits forever: whatever is still queued at shutdown is answered with an error.
    yield* Effect.addFinalizer(() =>
      Queue.clear(queue).pipe(
        Effect.flatMap((left) => Effect.forEach(left, (p) => Deferred.fail(p.result, onClosed()), { discard: true })),
        Effect.andThen(Queue.shutdown(queue)),
      ),
    )

    return (item: I) =>
      Effect.gen(function* () {
        const result = yield* Deferred.make<O, E>()
        // After shutdown nobody takes from the queue: the caller is told at once instead of waiting forever.
        if (!(yield* Queue.offer(queue, { item, result }))) return yield* Effect.fail(onClosed())
        return yield* Deferred.await(result)
      })
  })
