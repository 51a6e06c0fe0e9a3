import { assert, layer } from "@effect/vitest"
import { Clock, Duration, Effect, Exit, Fiber, Scope, Stream } from "effect"
import { SqlClient } from "effect/sql"
import { PoolConfig } from "../../config.ts"
import { ProviderError } from "../../domain/errors.ts"
import { QuotaExceeded } from "../../domain/quota.ts"
import { AgentResources } from "../../providers/AgentResources.ts"
import { type OnProgress, Pool, type PoolEvent, type Progress } from "../Pool.ts"
import { makePool } from "../PoolLive.ts"
import { RuntimeClient } from "../RuntimeClient.ts"
import { MemoryCloud, PoolTest, startPool } from "../testing.ts"
import { makeHurriedClock } from "./loopback-cloud.ts"

// The claim paths pool.test.ts does not take: waiting for an agent (CLAIM_WAIT), a replay of a claim that never
// finishes, and a provision that fails after someone else (the tick's recovery) already settled the row.

const emptyPool = Effect.gen(function* () {
  const pool = yield* Pool
  for (const i of yield* pool.list()) yield* pool.kill(i.id)
  return pool
})

const recorder = () => {
  const steps: Array<string> = []
  const onProgress: OnProgress = (p: Progress) => Effect.sync(() => void steps.push(`${p.step} ${p.status}`))
  return { steps, onProgress }
}

type Failure = { readonly _tag: string; readonly message: string; readonly reason?: string }

layer(PoolTest(), { timeout: "120 seconds", excludeTestServices: true })("claim", (it) => {
  it.effect("a claim that may wait on an empty pool starts an agent and gets that one once it is ready", () =>
    Effect.gen(function* () {
      const pool = yield* emptyPool
      const { steps, onProgress } = recorder()
      const result = yield* pool.claim({ key: "wait-ok", claimedBy: "inbox-patient", wait: true }, onProgress)
      assert.strictEqual(result.instance.status, "claimed")
      assert.strictEqual(result.instance.claimedBy, "inbox-patient")
      assert.isFalse(result.replayed)
      assert.includeMembers(steps, ["wait active", "wait ok", "provision ok"])
      assert.strictEqual((yield* pool.list()).length, 1, "the agent it got is the one started for it")
    }),
  )

  it.effect(
    "a claim that waited CLAIM_WAIT without an agent (POOL_MAX_TOTAL 0) fails NoAgentAvailable, saying so",
    () =>
      Effect.gen(function* () {
        yield* emptyPool
        const { pool, close } = yield* startPool({
          settings: { minIdle: 0, maxTotal: 0, claimWait: Duration.millis(600) },
        })
        const { steps, onProgress } = recorder()
        const refused = (yield* Effect.flip(
          pool.claim({ key: "wait-none", claimedBy: "inbox-patient", wait: true }, onProgress),
        )) as Failure
        yield* close
        assert.strictEqual(refused._tag, "NoAgentAvailable")
        assert.include(refused.message, "No agent became ready within")
        assert.includeMembers(steps, ["wait active", "wait fail"])
      }),
  )

  it.effect(
    "a replay of a claim that stays in claiming waits POOL_PROVISION_TIMEOUT + 5 s, then says it is still being processed",
    () =>
      Effect.gen(function* () {
        yield* emptyPool
        const provisionTimeout = Duration.millis(500)
        const { pool, close } = yield* startPool({ settings: { provisionTimeout } })
        yield* pool.replenish(1)
        yield* pool.tick
        const first = yield* pool.claim({ key: "replay-stuck", claimedBy: "inbox-a" })
        const sql = yield* SqlClient.SqlClient
        // As if the first claim were still setting up (its replica busy or gone, the tick not yet there).
        yield* sql`UPDATE instances SET status = 'claiming' WHERE id = ${first.instance.id}`
        const hurried = yield* makeHurriedClock
        const started = hurried.now()
        const replay = (yield* Effect.flip(pool.claim({ key: "replay-stuck", claimedBy: "inbox-a" })).pipe(
          Effect.provideService(Clock.Clock, hurried.clock),
        )) as Failure
        const waited = hurried.now() - started
        yield* close
        assert.strictEqual(replay._tag, "ProvisionFailed")
        assert.strictEqual(replay.reason, "timeout")
        assert.include(replay.message, "still being processed")
        // On the claim's own clock; a lower bound only (a loaded machine makes it later, never sooner).
        assert.isAtLeast(waited, Duration.toMillis(provisionTimeout) + 5_000, "waited the timeout plus 5 s")
      }),
  )

  it.effect(
    "with AGENTS_PER_OWNER on and API_CLAIMS_PER_HOUR off: a person at the cap is told 'live', an API label is never capped",
    () =>
      Effect.gen(function* () {
        const base = yield* emptyPool
        yield* base.replenish(4)
        yield* base.tick
        const { pool, close } = yield* startPool({
          settings: { quotas: { ...(yield* PoolConfig).quotas, agentsPerOwner: 1, apiClaimsPerHour: 0 } },
        })
        yield* pool.claim({ key: "cap-alice-1", claimedBy: "alice" })
        const { steps, onProgress } = recorder()
        const refused = yield* Effect.flip(pool.claim({ key: "cap-alice-2", claimedBy: "alice" }, onProgress))
        const api = []
        for (let i = 0; i < 3; i++)
          api.push(yield* Effect.exit(pool.claim({ key: `cap-api-${i}`, claimedBy: "api:ci" })))
        // Nothing idle any more: that is what the next API claim, and a person below the cap, hear, not a quota.
        const none = yield* Effect.flip(pool.claim({ key: "cap-api-3", claimedBy: "api:ci" }))
        const bob = yield* Effect.flip(pool.claim({ key: "cap-bob-1", claimedBy: "bob" }))
        yield* close
        assert.strictEqual(none._tag, "NoAgentAvailable")
        assert.strictEqual(bob._tag, "NoAgentAvailable")
        assert.instanceOf(refused, QuotaExceeded)
        assert.strictEqual((refused as QuotaExceeded).kind, "live")
        assert.deepStrictEqual(steps, ["claim active", "claim fail"], "the refusal is told as a failed step")
        assert.deepStrictEqual(
          api.map((e) => e._tag),
          ["Success", "Success", "Success"],
          "no hourly cap when API_CLAIMS_PER_HOUR is 0",
        )
      }),
  )

  it.effect(
    "with API_CLAIMS_PER_HOUR on and AGENTS_PER_OWNER off: an API label past its hour is told when its oldest claim frees a slot, a person is never capped",
    () =>
      Effect.gen(function* () {
        const base = yield* emptyPool
        yield* base.replenish(1)
        yield* base.tick
        const { pool, close } = yield* startPool({
          settings: { quotas: { ...(yield* PoolConfig).quotas, agentsPerOwner: 0, apiClaimsPerHour: 1 } },
        })
        yield* pool.claim({ key: "hour-api-1", claimedBy: "api:hourly" })
        const refused = yield* Effect.flip(pool.claim({ key: "hour-api-2", claimedBy: "api:hourly" }))
        const person = yield* Effect.flip(pool.claim({ key: "hour-carol-1", claimedBy: "carol" }))
        yield* close
        assert.instanceOf(refused, QuotaExceeded)
        const q = refused as QuotaExceeded
        assert.strictEqual(q.kind, "hourly")
        // The only claim was made moments ago: its slot frees in (almost) an hour.
        assert.isAtLeast(q.retryAfterSeconds, 3_000)
        assert.isAtMost(q.retryAfterSeconds, 3_600)
        assert.strictEqual(person._tag, "NoAgentAvailable", "nothing idle: not a quota for a person")
      }),
  )

  for (const [settledAs, claimedBy, outcome] of [
    ["claimed", null, "ok"],
    ["crashed", null, "fail"],
    ["claimed", "inbox-someone-else", "fail"],
  ] as const) {
    it.effect(
      `a provision that fails after the row was settled ${settledAs}${claimedBy ? ` for ${claimedBy}` : ""} by someone else: ${outcome === "ok" ? "the claim succeeds with it" : "ProvisionFailed, the row left as it is"}`,
      () =>
        Effect.gen(function* () {
          const pool = yield* emptyPool
          yield* pool.replenish(1)
          yield* pool.tick
          const sql = yield* SqlClient.SqlClient
          const memory = yield* RuntimeClient
          // The runtime finishes late: meanwhile the row was settled (the tick's recovery), then the answer is a failure.
          const lateFailure: RuntimeClient["Service"]["provision"] = (url) =>
            sql`UPDATE instances SET status = ${settledAs}, claimed_by = COALESCE(${claimedBy}, claimed_by),
                  conversation_id = 'conv-settled' WHERE url = ${url}`.pipe(
              Effect.orDie,
              Effect.andThen(
                Effect.fail(
                  new ProviderError({
                    provider: "runtime",
                    operation: "provision",
                    status: null,
                    retryable: true,
                    message: "the answer was lost",
                  }),
                ),
              ),
            )
          const scope = yield* Scope.make()
          const racing = yield* makePool.pipe(
            Effect.provideService(RuntimeClient, RuntimeClient.of({ ...memory, provision: lateFailure })),
            Scope.provide(scope),
          )
          const { steps, onProgress } = recorder()
          const exit = yield* Effect.exit(
            racing.claim({ key: `settled-${settledAs}-${claimedBy}`, claimedBy: "inbox-a" }, onProgress),
          )
          yield* Scope.close(scope, Exit.void)
          const [row] = yield* pool.list()
          assert.strictEqual(row?.status, settledAs, "the row keeps what the other party recorded")
          if (outcome === "ok") {
            if (!Exit.isSuccess(exit)) return assert.fail(`the claim failed: ${String(exit.cause)}`)
            const result = exit.value
            assert.deepStrictEqual(
              [result.instance.id, result.instance.status, result.replayed],
              [row!.id, "claimed", false],
            )
            assert.strictEqual(steps.at(-1), "provision ok")
          } else {
            assert.isTrue(Exit.isFailure(exit))
            const failure = (yield* Effect.flip(exit)) as Failure
            assert.strictEqual(failure._tag, "ProvisionFailed")
            assert.strictEqual(steps.at(-1), "provision fail")
          }
        }),
    )
  }

  it.effect(
    "a provision that fails: ProvisionFailed with the runtime's reason, the row crashed with it, its resources released once, InstanceCrashed (during setup) published, the failure in the progress; a replay of the key answers the same reason",
    () =>
      Effect.gen(function* () {
        const base = yield* emptyPool
        yield* base.replenish(1)
        yield* base.tick
        const released: Array<string> = []
        const resources = AgentResources.of({
          ...(yield* AgentResources),
          release: (id) => Effect.sync(() => void released.push(id)),
        })
        const { pool, close } = yield* startPool({ resources })
        const events: Array<PoolEvent> = []
        const listener = yield* Stream.runForEach(pool.events, (e) => Effect.sync(() => void events.push(e))).pipe(
          Effect.forkChild,
        )
        yield* Effect.sleep("20 millis") // the listener subscribes
        ;(yield* MemoryCloud).failProvisions(1, "runtime exploded")
        const progress: Array<Progress> = []
        const failed = (yield* Effect.flip(
          pool.claim({ key: "fails-once", claimedBy: "inbox-f" }, (p) => Effect.sync(() => void progress.push(p))),
        )) as Failure
        const replayed = (yield* Effect.flip(pool.claim({ key: "fails-once", claimedBy: "inbox-f" }))) as Failure
        yield* Fiber.interrupt(listener)
        yield* close
        const [row] = yield* base.list()
        assert.strictEqual(row?.status, "crashed")
        assert.strictEqual(failed._tag, "ProvisionFailed")
        assert.include(failed.reason ?? "", "runtime exploded")
        assert.strictEqual(row?.lastError, failed.reason, "the row records the reason the claimer was told")
        assert.deepStrictEqual(released, [row!.id], "its provider resources are released")
        assert.deepStrictEqual(
          events.filter((e) => e._tag === "InstanceCrashed"),
          [
            {
              _tag: "InstanceCrashed",
              instanceId: row!.id,
              agentName: row!.agentName,
              reason: failed.reason!,
              duringSetup: true,
            },
          ],
        )
        assert.deepStrictEqual(progress.at(-1), {
          step: "provision",
          status: "fail",
          message: failed.reason!,
          instanceId: row!.id,
        })
        assert.strictEqual(replayed._tag, "ProvisionFailed")
        assert.strictEqual(replayed.reason, failed.reason, "the replay answers the first outcome, not just 'crashed'")
      }),
  )

  it.effect(
    "a claim tells its steps: picked, setting up, ready, each naming the instance; nothing idle: one failed step",
    () =>
      Effect.gen(function* () {
        const pool = yield* emptyPool
        yield* pool.replenish(1)
        yield* pool.tick
        const progress: Array<Progress> = []
        const onProgress: OnProgress = (p) => Effect.sync(() => void progress.push(p))
        const result = yield* pool.claim({ key: "steps-ok", claimedBy: "inbox-s" }, onProgress)
        const id = result.instance.id
        assert.deepStrictEqual(
          progress.map((p) => [p.step, p.status, p.instanceId]),
          [
            ["claim", "active", undefined],
            ["claim", "ok", id],
            ["provision", "active", id],
            ["provision", "ok", id],
          ],
        )
        assert.isTrue(
          progress.every((p) => p.message.length > 0),
          "every step says something",
        )
        progress.length = 0
        const none = yield* Effect.flip(pool.claim({ key: "steps-none", claimedBy: "inbox-s" }, onProgress))
        assert.strictEqual(none._tag, "NoAgentAvailable")
        assert.deepStrictEqual(
          progress.map((p) => [p.step, p.status]),
          [
            ["claim", "active"],
            ["claim", "fail"],
          ],
        )
        assert.isTrue(
          progress.every((p) => p.message.length > 0),
          "every step says something",
        )
      }),
  )

  it.effect(
    "a claim naming a template gets its name, instructions, slug and model; blank name, instructions and join link count as absent",
    () =>
      Effect.gen(function* () {
        const pool = yield* emptyPool
        const cloud = yield* MemoryCloud
        const sql = yield* SqlClient.SqlClient
        yield* pool.replenish(2)
        yield* pool.tick
        yield* sql`UPDATE templates SET model = 'qwen2.5:7b' WHERE slug = 'trip-planner'`
        const templated = yield* pool.claim({
          key: "tpl-1",
          claimedBy: "inbox-t",
          templateSlug: "trip-planner",
          agentName: "   ",
          instructions: " \n ",
          joinUrl: "  ",
        })
        assert.strictEqual(templated.instance.templateSlug, "trip-planner")
        assert.strictEqual(templated.instance.model, "qwen2.5:7b")
        const sent = cloud.instances.get(templated.instance.providerRef!)?.provisioned
        assert.strictEqual(sent?.agentName, "Trip Planner")
        assert.include(sent?.instructions ?? "", "You help a group plan a trip.")
        assert.strictEqual(sent?.templateSlug, "trip-planner")
        assert.strictEqual(sent?.model, "qwen2.5:7b")
        assert.strictEqual(sent?.joinUrl ?? null, null, "a blank join link is no link: the agent makes its own")

        // Without a template, blank fields take the defaults, and the agent has no template or model of its own.
        const plain = yield* pool.claim({ key: "tpl-2", claimedBy: "inbox-t", agentName: " ", instructions: "  " })
        const plainSent = cloud.instances.get(plain.instance.providerRef!)?.provisioned
        assert.strictEqual(plain.instance.templateSlug, null)
        assert.strictEqual(plain.instance.model ?? null, null)
        assert.notStrictEqual(plainSent?.agentName.trim(), "")
        assert.notStrictEqual(plainSent?.instructions.trim(), "")
        assert.notInclude(plainSent?.instructions ?? "", "You help a group plan a trip.")
      }),
  )
})
