import { assert, describe, it, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { Pool } from "@convos-agents/pool-core"
import { MemoryCloud } from "@convos-agents/pool-core/testing/pool"
import { alertText, makeAlertLimiter } from "../src/alerts.ts"
import { ManagerBot } from "../src/ManagerBot.ts"
import { admin, botTestLayer, openManagerChat } from "./helpers.ts"

// Ops alerts: the text for each pool event, the limiter (one post per kind per interval, then a summary of what was
// held back, bounded memory), and the real bot posting them to the ops chat over devnet.

const crash = (id: string, name = "Trippy") =>
  alertText({ _tag: "InstanceCrashed", instanceId: id, agentName: name, reason: "railway reports it failed" })!
const MIN = 60_000

describe("alert texts", () => {
  it("crashed, dead, idle below target, provider failing; other events are not alerts", () => {
    const c = crash("0123456789abcdef")
    assert.strictEqual(c.kind, "crashed")
    assert.include(c.text, "Agent Trippy [01234567] crashed: railway reports it failed")
    assert.include(c.text, "/dismiss 01234567")
    assert.include(
      alertText({ _tag: "InstanceDead", instanceId: "feedfacecafe", reason: "never became ready" })!.text,
      "Instance feedface is dead: never became ready",
    )
    const idle = alertText({ _tag: "IdleBelowTarget", idle: 0, target: 3 })!
    assert.strictEqual(idle.kind, "idle-below-target")
    assert.include(idle.text, "Only 0 idle agent(s), target 3")
    const p = alertText({ _tag: "ProviderFailing", provider: "railway", message: "HTTP 503" })!
    assert.strictEqual(p.kind, "provider:railway")
    assert.include(p.text, "railway is failing: HTTP 503")
    const loop = alertText({
      _tag: "LoopFailing",
      loop: "pool tick",
      message: "pool tick failed (it failed: connection refused); it runs again every 10s",
    })!
    assert.strictEqual(loop.kind, "restart:pool tick")
    assert.strictEqual(loop.text, "⚠️ pool tick failed (it failed: connection refused); it runs again every 10s")
    assert.isNull(alertText({ _tag: "Transition", instanceId: "x", from: "idle", to: "claiming" }))
  })
})

describe("create circuit alerts", () => {
  it("one post per opening and one when it closes, never held by the limiter; not authorized says what to fix", () => {
    const limit = makeAlertLimiter(10 * MIN)
    const opened = alertText({
      _tag: "ProviderCircuitOpened",
      provider: "railway",
      reason: "railway create project failed: HTTP 503",
      fault: "unavailable",
      retryInMs: 30_000,
    })!
    assert.include(
      opened.text,
      "Creating agents on railway is paused after a failure: railway create project failed: HTTP 503",
    )
    assert.include(opened.text, "One trial create in 30 s")
    const closed = alertText({
      _tag: "ProviderCircuitClosed",
      provider: "railway",
      pausedForMs: 4 * MIN,
      failures: 3,
      fault: "unavailable",
    })!
    assert.include(
      closed.text,
      "Creating agents on railway resumed: a trial instance became ready after 4 min paused (3 failure(s))",
    )
    // Opened, closed, opened again within one interval: every one is posted at once, none is summarised later.
    assert.deepStrictEqual(limit.offer(opened, 0), [opened.text])
    assert.deepStrictEqual(limit.offer(closed, 1000), [closed.text])
    assert.deepStrictEqual(limit.offer(opened, 2000), [opened.text])
    assert.deepStrictEqual(limit.flush(20 * MIN), [])
    const refused = alertText({
      _tag: "ProviderCircuitOpened",
      provider: "railway",
      reason: "Not Authorized",
      fault: "unauthorized",
      retryInMs: 0,
    })!
    assert.include(refused.text, "railway refuses the pool's credentials (not authorized): a configuration fault")
    assert.include(refused.text, "marks no agent gone")
    const back = alertText({
      _tag: "ProviderCircuitClosed",
      provider: "railway",
      pausedForMs: 2 * 3_600_000,
      failures: 1,
      fault: "unauthorized",
    })!
    assert.include(back.text, "railway accepts the pool's credentials again after 2 h")
  })
})

describe("alert limiter", () => {
  it("a storm of crashes is one alert, then one summary when the interval ends; then it starts over", () => {
    const limit = makeAlertLimiter(10 * MIN)
    assert.deepStrictEqual(limit.offer(crash("aaaaaaaa1"), 0), [crash("aaaaaaaa1").text])
    for (const [i, id] of ["bbbbbbbb1", "cccccccc1", "dddddddd1"].entries())
      assert.deepStrictEqual(limit.offer(crash(id, `A${i}`), 1000 + i), [])
    assert.deepStrictEqual(limit.flush(9 * MIN), [], "nothing before the interval ends")
    const [summary, ...rest] = limit.flush(10 * MIN)
    assert.strictEqual(rest.length, 0)
    assert.include(summary, "3 more crashed in the last 10 min: A0 [bbbbbbbb], A1 [cccccccc], A2 [dddddddd]")
    assert.include(summary, "/pool lists them")
    // The summary counts as this interval's post: the next crash waits for the next one.
    assert.deepStrictEqual(limit.offer(crash("eeeeeeee1"), 11 * MIN), [])
    assert.include(limit.flush(20 * MIN)[0], "1 more crashed")
    // A quiet interval later, a crash is posted on its own again, and the quiet kind was forgotten meanwhile.
    assert.deepStrictEqual(limit.flush(31 * MIN), [])
    assert.strictEqual(limit.size(), 0)
    assert.deepStrictEqual(limit.offer(crash("ffffffff1"), 32 * MIN), [crash("ffffffff1").text])
  })

  it("a held alert arriving after the interval comes out in the summary at once", () => {
    const limit = makeAlertLimiter(MIN)
    limit.offer(crash("aaaaaaaa1"), 0)
    limit.offer(crash("bbbbbbbb1", "B"), 10)
    const out = limit.offer(crash("cccccccc1", "C"), MIN + 1)
    assert.strictEqual(out.length, 1)
    assert.include(out[0], "2 more crashed in the last 1 min: B [bbbbbbbb], C [cccccccc]")
  })

  it("kinds are limited separately; a long storm lists the first few and counts the rest", () => {
    const limit = makeAlertLimiter(MIN)
    const provider = (message: string) => alertText({ _tag: "ProviderFailing", provider: "railway", message })!
    assert.strictEqual(limit.offer(crash("aaaaaaaa1"), 0).length, 1)
    assert.strictEqual(limit.offer(provider("HTTP 503"), 0).length, 1, "a crash does not silence the provider alert")
    assert.strictEqual(limit.offer(alertText({ _tag: "IdleBelowTarget", idle: 0, target: 2 })!, 0).length, 1)
    for (let i = 0; i < 50; i++) limit.offer(crash(`${String(i).padStart(8, "0")}x`, `N${i}`), 1 + i)
    for (let i = 0; i < 5; i++) limit.offer(provider(`HTTP 50${i}`), 1 + i)
    const out = limit.flush(MIN)
    assert.strictEqual(out.length, 2)
    assert.include(out[0], "50 more crashed")
    assert.include(out[0], "N9 [00000009] and 40 more.")
    assert.notInclude(out[0], "N10 ")
    assert.include(out[1], "railway failed 5 more time(s) in the last 1 min; last error: HTTP 504")
  })

  it("memory stays bounded: at most maxKinds kinds, and an evicted kind's held alerts still come out", () => {
    const limit = makeAlertLimiter(MIN, { maxKinds: 8 })
    const provider = (n: number) => alertText({ _tag: "ProviderFailing", provider: `p${n}`, message: "down" })!
    limit.offer(provider(0), 0)
    limit.offer(provider(0), 1) // held
    let posted: string[] = []
    for (let n = 1; n < 1_000; n++) posted = posted.concat(limit.offer(provider(n), 2))
    assert.isAtMost(limit.size(), 8)
    assert.isTrue(
      posted.some((t) => t.includes("p0 failed 1 more time(s)")),
      "the held alert of the evicted kind was summarized",
    )
    assert.strictEqual(limit.flush(10 * MIN).length, 0)
    assert.strictEqual(limit.size(), 0)
  })
})

const INTERVAL_MS = 1500
layer(
  botTestLayer({
    env: { ALERT_INTERVAL_MS: String(INTERVAL_MS) },
    settings: { deathGrace: Duration.zero, minIdle: 1 },
  }),
  { timeout: "120 seconds", excludeTestServices: true },
)("ops alerts over devnet", (it) => {
  it.effect(
    "the bot posts crashes, idle below target and provider failures to the ops chat, rate limited per kind with a summary",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const cloud = yield* MemoryCloud
        const bot = yield* ManagerBot
        const ops = yield* openManagerChat("Admin", bot.opsInviteUrl, admin)
        const seen = (yield* ops.botTexts()).length
        const alerts = () => ops.botTexts().pipe(Effect.map((ts) => ts.slice(seen)))
        const waitFor = (what: string, check: (ts: ReadonlyArray<string>) => boolean) =>
          Effect.gen(function* () {
            for (let i = 0; i < 200; i++) {
              const ts = yield* alerts()
              if (check(ts)) return ts
              yield* Effect.sleep(50)
            }
            return yield* Effect.fail(new Error(`no ${what} in the ops chat: ${JSON.stringify(yield* alerts())}`))
          })

        // A storm: three claimed agents crash in one tick (and the pool drops below its target of 1 idle).
        yield* pool.replenish(3)
        yield* pool.tick
        const claimed = yield* Effect.forEach([0, 1, 2], (i) =>
          pool.claim({ key: `storm-${i}`, claimedBy: "someone", agentName: `Storm${i}` }),
        )
        for (const c of claimed) cloud.setState(c.instance.providerRef!, "failed")
        assert.strictEqual((yield* pool.tick).markedCrashed, 3)
        const afterStorm = yield* waitFor("crash summary", (ts) => ts.some((t) => t.includes("2 more crashed")))
        const crashAlerts = afterStorm.filter((t) => /crashed/.test(t))
        assert.strictEqual(
          crashAlerts.length,
          2,
          `one alert + one summary for three crashes: ${JSON.stringify(crashAlerts)}`,
        )
        assert.match(crashAlerts[0]!, /Agent Storm\d \[[0-9a-f]{8}\] crashed: memory reports it failed/)
        assert.include(crashAlerts[1], "2 more crashed in the last 2 s")
        assert.strictEqual(afterStorm.filter((t) => t.includes("Only 0 idle agent(s), target 1")).length, 1)

        // The provider fails on three ticks in a row (the pool's creates; running agents answer /pool/health, so the
        // provider is not asked about them): one alert, then one summary. (POOL_CREATE_BACKOFF is 0 here: no pauses.)
        yield* Effect.sleep(INTERVAL_MS) // let the idle alert's interval pass too
        yield* pool.tick // the replacement started after the storm gets ready …
        yield* pool.drain(10) // … and goes, so each tick below needs a create
        cloud.setFailRate(1)
        for (let i = 0; i < 3; i++) yield* pool.tick
        cloud.setFailRate(0)
        // Three failures reach the ops chat as alerts plus summaries that count the rest: with fast ticks one alert
        // and "2 more"; on a loaded machine a tick may outlast the interval, which posts the next one as a new alert.
        const reported = (ts: ReadonlyArray<string>) =>
          ts.reduce(
            (n, t) =>
              n + (t.includes("memory is failing") ? 1 : Number(/memory failed (\d+) more time/.exec(t)?.[1] ?? 0)),
            0,
          )
        const afterOutage = yield* waitFor("provider summary", (ts) => reported(ts) >= 3)
        const providerAlerts = afterOutage.filter((t) => t.includes("memory is failing") || t.includes("memory failed"))
        assert.strictEqual(reported(afterOutage), 3, JSON.stringify(providerAlerts))
        assert.include(providerAlerts[0], "⚠️ memory is failing: memory compute: injected failure of create")
        assert.include(providerAlerts.at(-1), "memory compute: injected failure of create")
        // Alerts go to the ops chat only.
        const person = yield* openManagerChat("Bystander")
        assert.isFalse((yield* person.botTexts()).some((t) => t.startsWith("⚠️")))
      }),
  )
})
