import { assert } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Exit, Layer, Scope } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { ProviderCircuitLive, startPool } from "@convos-agents/pool-core/testing/pool"
import { ManagerBot } from "../src/ManagerBot.ts"
import { botTestParts, openManagerChat, type Person } from "./helpers.ts"

// Bot "processes" for the tests where the bot's process dies midway (resume.test.ts, resume-commands.test.ts). Each
// bot runs on a pool of its own (its own replica id, as a process has): closing both is the process dying (its replica
// is then gone), and the next bot on the same database and devnet is another process, or the restart. The test's own
// pool (the layer's) stays up for replenish and the tick, like a third replica.

export const { deps, bot } = botTestParts({ settings: { provisionTimeout: Duration.seconds(5) } })

/**
 * A bot "process": a bot over a pool of its own; `close` is its death (its replica's lock is free after it). With
 * `dieAfter`, that pool call does its work and then never returns (`effectDone` is then complete): the command is
 * stopped between its effect and its reply, where closing the process is a death after the effect.
 */
export const startProcessDying = (dieAfter?: "transfer" | "rotateInvite") =>
  Effect.gen(function* () {
    const own = yield* startPool().pipe(Effect.provide(ProviderCircuitLive))
    const effectDone = yield* Deferred.make<void>()
    const stop = <A, E>(effect: Effect.Effect<A, E>) =>
      effect.pipe(Effect.tap(() => Deferred.succeed(effectDone, undefined).pipe(Effect.andThen(Effect.never))))
    const pool: Pool["Service"] =
      dieAfter === "transfer"
        ? { ...own.pool, transfer: (id, from, to) => stop(own.pool.transfer(id, from, to)) }
        : dieAfter === "rotateInvite"
          ? { ...own.pool, rotateInvite: (id, owner) => stop(own.pool.rotateInvite(id, owner)) }
          : own.pool
    return { ...(yield* processOver(own, pool)), effectDone: Deferred.await(effectDone) }
  })

const processOver = (own: { readonly close: Effect.Effect<void> }, pool: Pool["Service"]) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    // Closed by the test (the death), or at the test's end if it failed first: never left running into the next test.
    const close = yield* Effect.cached(Scope.close(scope, Exit.void).pipe(Effect.andThen(own.close)))
    yield* Effect.addFinalizer(() => close)
    const built = yield* Layer.build(bot.pipe(Layer.provide(Layer.succeed(Pool, pool)))).pipe(Scope.provide(scope))
    return {
      /** A person opens the manager chat through this process's bot (the same bot identity in every process). */
      open: (name: string, testScope: Scope.Scope) =>
        openManagerChat(name).pipe(
          Effect.provideService(ManagerBot, Context.get(built, ManagerBot)),
          Scope.provide(testScope),
        ),
      close,
    }
  })

export const startProcess = startProcessDying()

export const until = <E, R>(check: Effect.Effect<boolean, E, R>, what: string, ms = 30_000) =>
  Effect.gen(function* () {
    const deadline = Date.now() + ms
    while (Date.now() < deadline) {
      if (yield* check) return
      yield* Effect.sleep(50)
    }
    assert.fail(`timed out waiting for ${what}`)
  })

export const textsMatching = (p: Person, pattern: RegExp) =>
  p.botTexts().pipe(Effect.map((ts) => ts.filter((t) => pattern.test(t))))
