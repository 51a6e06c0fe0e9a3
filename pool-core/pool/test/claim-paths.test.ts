import { assert, layer } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber } from "effect"
import { type OnProgress, Pool, type Progress } from "../Pool.ts"
import { MemoryCloud, PoolTest, startPool } from "../testing.ts"
import { drainAll } from "./tick-support.ts"

// Claim paths claim.test.ts does not take: claims already waiting go before a newcomer, a claim that may wait but
// finds an idle agent does not queue, a claim that joins a conversation, a pool that has shut down, and a setup cut at
// POOL_PROVISION_TIMEOUT (claim-timeout.test.ts measures that one's timing; this one only its outcome).

const emptyPool = Effect.andThen(drainAll, Pool)

const steps = () => {
  const seen: Array<string> = []
  const onProgress: OnProgress = (p: Progress) => Effect.sync(() => void seen.push(`${p.step} ${p.status}`))
  return { seen, onProgress }
}

/** The real clock, except that every sleep takes 100 times as long. */
const lookingRarely = Effect.map(
  Clock.clockWith(Effect.succeed),
  (real): Clock.Clock => ({
    currentTimeMillisUnsafe: () => real.currentTimeMillisUnsafe(),
    currentTimeMillis: real.currentTimeMillis,
    currentTimeNanosUnsafe: () => real.currentTimeNanosUnsafe(),
    currentTimeNanos: real.currentTimeNanos,
    monotonicTimeNanosUnsafe: () => real.monotonicTimeNanosUnsafe(),
    monotonicTimeNanos: real.monotonicTimeNanos,
    sleep: (d) => real.sleep(Duration.millis(Duration.toMillis(d) * 100)),
  }),
)

const JOIN = "https://dev.convos.org/v2?i=an-existing-conversation"

layer(PoolTest(), { timeout: "60 seconds", excludeTestServices: true })("claim paths", (it) => {
  it.effect("a claim that may wait but finds an idle agent takes it at once, without queueing", () =>
    Effect.gen(function* () {
      const pool = yield* emptyPool
      yield* pool.replenish(1)
      yield* pool.tick
      const { seen, onProgress } = steps()
      const result = yield* pool.claim({ key: "no-queue", claimedBy: "patient", wait: true }, onProgress)
      assert.strictEqual(result.instance.status, "claimed")
      assert.deepStrictEqual(seen, ["claim active", "claim ok", "provision active", "provision ok"])
    }),
  )

  it.effect(
    "a claim that joins a conversation: the agent gets the link, the result says joined and gives that link as the invite",
    () =>
      Effect.gen(function* () {
        const pool = yield* emptyPool
        const cloud = yield* MemoryCloud
        yield* pool.replenish(2)
        yield* pool.tick
        const joined = yield* pool.claim({ key: "joins", claimedBy: "j", joinUrl: ` ${JOIN} ` })
        assert.isTrue(joined.joined)
        assert.strictEqual(joined.inviteUrl, JOIN, "the runtime gives no invite of its own: the link joined is it")
        assert.strictEqual(joined.instance.joinUrl, JOIN)
        assert.strictEqual(joined.conversationId, `conv-${joined.instance.id.replace(/-/g, "")}`)
        assert.strictEqual(cloud.instances.get(joined.instance.providerRef!)?.provisioned?.joinUrl, JOIN)
        const own = yield* pool.claim({ key: "own-conversation", claimedBy: "j" })
        assert.isFalse(own.joined)
        assert.strictEqual(own.inviteUrl, `https://dev.convos.org/v2?i=memory-${own.instance.id}`)
        assert.isNull(own.instance.joinUrl)
      }),
  )

  it.effect("a claim on a pool that has shut down is refused with a message that says to try again", () =>
    Effect.gen(function* () {
      const pool = yield* emptyPool
      yield* pool.replenish(1)
      yield* pool.tick
      const p = yield* startPool()
      yield* p.close
      const refused = yield* Effect.flip(p.pool.claim({ key: "after-shutdown", claimedBy: "late" }))
      assert.strictEqual(refused._tag, "DatabaseError")
      assert.strictEqual(refused.message, "The pool is shutting down; try again in a moment.")
      assert.strictEqual((yield* pool.counts).idle, 1, "nothing was taken")
    }),
  )
})

layer(PoolTest({ cloud: { readyAfter: "2 seconds" } }), { timeout: "60 seconds", excludeTestServices: true })(
  "claim: waiting claims first",
  (it) => {
    it.effect(
      "a claim that may not wait leaves an idle agent to the claim already waiting for one (first come, first served)",
      () =>
        Effect.gen(function* () {
          yield* emptyPool
          const p = yield* startPool({ settings: { claimWait: Duration.seconds(20) } })
          // The waiting claim starts an agent for itself (ready 2 s after its create) and looks for an idle one when it
          // starts waiting, then every 250 ms; here every 25 s, so the agent that becomes idle is still there when the
          // newcomer asks.
          const told = steps()
          const waiting = yield* p.pool
            .claim({ key: "came-first", claimedBy: "first", wait: true }, told.onProgress)
            .pipe(Effect.provideService(Clock.Clock, yield* lookingRarely), Effect.forkChild)
          for (let t = 0; t < 500 && !told.seen.includes("wait active"); t++) yield* Effect.sleep("10 millis")
          yield* Effect.sleep("2500 millis") // its agent is ready now; the waiter looked before that
          yield* p.pool.tick
          const [idle] = yield* p.pool.list({ status: ["idle"] })
          assert.isDefined(idle, "the waiter's agent is idle, not yet taken")
          const newcomer = yield* Effect.flip(p.pool.claim({ key: "came-later", claimedBy: "later" }))
          assert.strictEqual(newcomer._tag, "NoAgentAvailable")
          assert.strictEqual(
            (yield* p.pool.get(idle!.id)).status,
            "idle",
            "the newcomer did not take the waiter's agent",
          )
          yield* Fiber.interrupt(waiting)
          yield* p.close
        }),
    )
  },
)

layer(PoolTest({ cloud: { provisionDelay: "30 seconds" }, settings: { provisionTimeout: Duration.millis(300) } }), {
  timeout: "60 seconds",
  excludeTestServices: true,
})("claim: a setup longer than POOL_PROVISION_TIMEOUT", (it) => {
  it.effect("is cut at the timeout: ProvisionFailed saying so, the agent crashed with that reason, never idle", () =>
    Effect.gen(function* () {
      const pool = yield* emptyPool
      yield* pool.replenish(1)
      yield* pool.tick
      const { seen, onProgress } = steps()
      const failed = yield* Effect.flip(pool.claim({ key: "too-slow", claimedBy: "s" }, onProgress))
      assert.strictEqual(failed._tag, "ProvisionFailed")
      const reason = "the agent did not finish setting up within 300ms"
      if (failed._tag === "ProvisionFailed") assert.strictEqual(failed.reason, reason)
      const [row] = yield* pool.list()
      assert.strictEqual(row?.status, "crashed")
      assert.strictEqual(row?.lastError, reason)
      assert.strictEqual(seen.at(-1), "provision fail")
    }),
  )
})
