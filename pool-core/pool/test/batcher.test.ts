import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import { makeBatcher } from "../batcher.ts"

describe("makeBatcher", () => {
  it.live(
    "concurrent callers share statements and each gets its own answer",
    () =>
      Effect.gen(function* () {
        const batches: Array<ReadonlyArray<number>> = []
        const double = yield* makeBatcher(
          (items: ReadonlyArray<number>) =>
            Effect.sync(() => {
              batches.push(items)
              return items.map((n) => (n % 10 === 7 ? Exit.fail(`no ${n}`) : Exit.succeed(n * 2)))
            }).pipe(Effect.delay("5 millis")),
          () => "closed",
          { maxBatch: 8, workers: 2 },
        )
        const results = yield* Effect.forEach(
          Array.from({ length: 40 }, (_, i) => i),
          (n) => Effect.result(double(n)),
          { concurrency: "unbounded" },
        )
        results.forEach((r, n) => {
          assert.deepStrictEqual(r._tag === "Success" ? r.success : r.failure, n % 10 === 7 ? `no ${n}` : n * 2)
        })
        assert.isBelow(batches.length, 40, "items were grouped")
        assert.isAtMost(Math.max(...batches.map((b) => b.length)), 8)
        assert.strictEqual(batches.flat().length, 40, "every item ran exactly once")
      }).pipe(Effect.scoped),
    { timeout: 10_000 },
  )

  it.live(
    "a defect in a batch answers its callers instead of leaving them waiting",
    () =>
      Effect.gen(function* () {
        const broken = yield* makeBatcher(
          (_: ReadonlyArray<number>) => Effect.die(new Error("boom")),
          () => "closed",
          { maxBatch: 4, workers: 1 },
        )
        const exits = yield* Effect.forEach([1, 2, 3], (n) => Effect.exit(broken(n)), { concurrency: "unbounded" })
        for (const exit of exits) assert.isTrue(Exit.hasDies(exit))
      }).pipe(Effect.scoped),
    { timeout: 10_000 },
  )

  it.live(
    "items still queued when the scope closes fail with the closing error",
    () =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const slow = yield* makeBatcher(
          (items: ReadonlyArray<number>) => Effect.succeed(items.map(Exit.succeed)).pipe(Effect.delay("200 millis")),
          () => "closed",
          { maxBatch: 1, workers: 1 },
        ).pipe(Scope.provide(scope))
        const fibers = yield* Effect.forEach([1, 2, 3], (n) => Effect.forkChild(Effect.exit(slow(n))))
        yield* Effect.sleep("50 millis")
        yield* Scope.close(scope, Exit.void)
        const exits = yield* Effect.forEach(fibers, Fiber.join)
        assert.deepStrictEqual(exits[0], Exit.succeed(1), "the batch in flight finishes")
        assert.deepStrictEqual(
          exits.slice(1).map((e) => (Exit.isFailure(e) ? "failed" : "ok")),
          ["failed", "failed"],
        )
      }),
    { timeout: 10_000 },
  )
})
