import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { warmupLoop } from "../src/warmup.ts"

// `npm start`'s warm-up lines over a scripted pool, on the TestClock: minutes of warming in milliseconds. The real
// process with a real agent is server/test/warmup.test.ts; here, what it prints when warming takes longer than the
// estimate: the estimate counts down every 10 s, ONE line says it is taking longer (with the estimate), and then only
// a change of the count is worth a line.

const scripted = (target: number) => {
  const pool = { idle: 0, usualMs: 30_000, newestStartingAt: 0 as number | null }
  const lines: Array<{ at: number; line: string }> = []
  let now = 0
  /** The clock at the loop's latest look (each line is said right after one). */
  let lookedAt = 0
  const deps = {
    target,
    idle: Effect.map(Clock.currentTimeMillis, (t) => {
      lookedAt = t
      return pool.idle
    }),
    boot: Effect.sync(() => ({ usualMs: pool.usualMs, newestStartingAt: pool.newestStartingAt })),
  }
  /** Moves the clock to `s` seconds after the start, in the loop's own steps. */
  const to = (s: number) =>
    Effect.gen(function* () {
      yield* TestClock.adjust(`${s * 1_000 - now} millis`)
      now = s * 1_000
    })
  const say = (line: string) => void lines.push({ at: lookedAt / 1_000, line })
  return { pool, lines, deps, to, say, since: (s: number) => lines.filter((l) => l.at >= s).map((l) => l.line) }
}

describe("warm-up lines", () => {
  it.effect("counts down, says once that it takes longer than estimated, then only a change of the count", () =>
    Effect.gen(function* () {
      const s = scripted(2)
      const fiber = yield* Effect.forkChild(warmupLoop(s.deps, (l) => s.say(l)))
      yield* s.to(0)
      expect(s.lines.map((l) => l.line)).toEqual(["agents: 0/2 ready, ~30 s"])
      yield* s.to(120)
      expect(s.lines.map((l) => l.line)).toEqual([
        "agents: 0/2 ready, ~30 s",
        "agents: 0/2 ready, ~20 s",
        "agents: 0/2 ready, ~10 s",
        "agents: 0/2 ready, taking longer than the estimated 30 s",
      ])
      // Past the estimate, 90 s without a line: no "taking longer" every 10 s.
      expect(s.since(31)).toEqual([])

      // One agent ready: the count is news (no estimate: the one still starting is past it).
      s.pool.idle = 1
      yield* s.to(125)
      expect(s.since(121)).toEqual(["agents: 1/2 ready"])
      // Another agent starts: the estimate counts down again; past it, nothing is said twice.
      s.pool.newestStartingAt = 125_000
      yield* s.to(200)
      expect(s.since(126)).toEqual(["agents: 1/2 ready, ~24 s", "agents: 1/2 ready, ~14 s", "agents: 1/2 ready, ~4 s"])

      s.pool.idle = 2
      yield* s.to(201)
      expect(s.since(201)).toEqual(["pool ready: 2/2 agents idle after 201 s"])
      yield* s.to(1_200)
      expect(s.since(202)).toEqual([])
      // The loop has ended.
      yield* Fiber.join(fiber)
    }),
  )

  it.effect("a warm-up that never ends: 5 lines in 15 minutes, the last one saying it stops", () =>
    Effect.gen(function* () {
      const s = scripted(1)
      yield* Effect.forkChild(warmupLoop(s.deps, (l) => s.say(l)))
      yield* s.to(0)
      yield* s.to(3_600)
      expect(s.lines).toEqual([
        { at: 0, line: "agents: 0/1 ready, ~30 s" },
        { at: 10, line: "agents: 0/1 ready, ~20 s" },
        { at: 20, line: "agents: 0/1 ready, ~10 s" },
        { at: 30, line: "agents: 0/1 ready, taking longer than the estimated 30 s" },
        { at: 900, line: "agents: still 0/1 ready after 15 min; see /admin and the log (no more progress lines)" },
      ])
    }),
  )

  it.effect("at the target from the start: one line, without a duration", () =>
    Effect.gen(function* () {
      const s = scripted(1)
      s.pool.idle = 1
      yield* Effect.forkChild(warmupLoop(s.deps, (l) => s.say(l)))
      yield* s.to(60)
      expect(s.lines.map((l) => l.line)).toEqual(["pool ready: 1/1 agents idle"])
    }),
  )
})
