import { assert, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { SqlClient } from "effect/sql"
import { Pool } from "../Pool.ts"
import { ProviderCircuit } from "../ProviderCircuit.ts"
import { MemoryCloud, PoolTest, startPool } from "../testing.ts"
import {
  counts,
  deathDetail,
  drainAll,
  idleInstances,
  oneStarting,
  ran,
  recordEvents,
  row,
  tagged,
} from "./tick-support.ts"

// The tick's phases one by one (tickObserve.ts, tickAct.ts), each checked by its whole report, the events it
// published and the rows it left: a starting instance's death (provider's word after the grace, no provider ref,
// a new address), a running instance's new address and death, and claims from before claim_owner. What the provider
// is asked, its failures and the call budget: tick-provider.test.ts. The grace period here is 30 s (poolConfigLayer).

layer(PoolTest({ settings: { createBackoff: Duration.seconds(30), createBackoffMax: Duration.minutes(5) } }), {
  timeout: "60 seconds",
  excludeTestServices: true,
})("the tick: a starting instance the provider reports failed", (it) => {
  it.effect(
    "dies only after POOL_DEATH_GRACE, with the provider's state and detail as the reason, and the death opens the create circuit",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const cloud = yield* MemoryCloud
        const sql = yield* SqlClient.SqlClient
        const i = yield* oneStarting
        const { events, stop } = yield* recordEvents(pool)
        cloud.setState(i.providerRef!, "failed", "exit code 137")
        const first = yield* pool.tick
        assert.deepStrictEqual(counts(first), ran({ providerCalls: 1, healthChecks: 1 }))
        const seen = yield* row(i.id)
        assert.strictEqual(seen?.status, "starting", "the first sighting only starts the grace period")
        assert.isNotNull(seen?.unhealthySince)
        yield* sql`UPDATE instances SET unhealthy_since = now() - interval '1 hour' WHERE id = ${i.id}`
        const second = yield* pool.tick
        // Dead and destroyed in the same run: one status call and one destroy call.
        assert.deepStrictEqual(counts(second), ran({ markedDead: 1, destroyed: 1, providerCalls: 2, healthChecks: 1 }))
        const reason = "never became ready: memory reports it failed (exit code 137)"
        assert.deepStrictEqual(yield* deathDetail(i.id, "starting"), [reason])
        assert.isFalse(cloud.instances.has(i.providerRef!), "destroyed at the provider")
        yield* stop
        assert.deepStrictEqual(tagged(events, "InstanceDead"), [{ _tag: "InstanceDead", instanceId: i.id, reason }])
        const circuit = yield* (yield* ProviderCircuit).state("memory")
        assert.strictEqual(circuit._tag, "Open", "a death before ready counts against the create circuit")
        if (circuit._tag === "Open") assert.strictEqual(circuit.reason, `instance ${i.id.slice(0, 8)} ${reason}`)
      }),
  )
})

layer(PoolTest(), { timeout: "60 seconds", excludeTestServices: true })("the tick: starting instances", (it) => {
  it.effect("one the provider reports gone, without a detail, dies after the grace period saying only that", () =>
    Effect.gen(function* () {
      const pool = yield* Pool
      const cloud = yield* MemoryCloud
      const sql = yield* SqlClient.SqlClient
      const i = yield* oneStarting
      cloud.setState(i.providerRef!, "gone")
      yield* sql`UPDATE instances SET unhealthy_since = now() - interval '1 hour' WHERE id = ${i.id}`
      const startedAt = Date.now()
      const report = yield* pool.tick
      const took = Date.now() - startedAt
      assert.strictEqual(report.markedDead, 1)
      assert.isAtLeast(report.durationMs, 0)
      assert.isAtMost(report.durationMs, took, "the report's duration is the tick's own")
      assert.deepStrictEqual(yield* deathDetail(i.id, "starting"), ["never became ready: memory reports it gone"])
    }),
  )

  it.effect(
    "one without a provider ref dies once older than the grace period; a younger one, and one with a ref, keep waiting",
    () =>
      Effect.gen(function* () {
        yield* drainAll
        const pool = yield* Pool
        const cloud = yield* MemoryCloud
        const sql = yield* SqlClient.SqlClient
        // A create that never came back (no provider ref): one a minute old, one just made.
        yield* sql`INSERT INTO instances (id, status, provider, token_hash, created_at, updated_at) VALUES
          ('refless-old', 'starting', 'memory', 'x', now() - interval '1 minute', now() - interval '1 minute'),
          ('refless-young', 'starting', 'memory', 'x', now(), now())`
        // One the provider knows and keeps asleep, also a minute old: it has until POOL_START_TIMEOUT (5 min).
        const [asleep] = yield* pool.replenish(1)
        cloud.setState(asleep!.providerRef!, "sleeping")
        yield* sql`UPDATE instances SET created_at = now() - interval '1 minute' WHERE id = ${asleep!.id}`
        const report = yield* pool.tick
        // The refless one is destroyed without a provider call; the one call is the status of `asleep`.
        assert.deepStrictEqual(counts(report), ran({ markedDead: 1, destroyed: 1, providerCalls: 1, healthChecks: 1 }))
        const [detail] = yield* deathDetail("refless-old", "starting")
        assert.match(detail ?? "", /^not ready after 1m/)
        assert.strictEqual((yield* pool.get("refless-young")).status, "starting")
        assert.strictEqual((yield* pool.get(asleep!.id)).status, "starting")
        yield* sql`DELETE FROM instances WHERE id = 'refless-young'`
      }),
  )

  it.effect(
    "one the provider reports at a new address moves there, and is promoted once its runtime answers there",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const sql = yield* SqlClient.SqlClient
        const i = yield* oneStarting
        yield* sql`UPDATE instances SET url = 'memory://an-old-address' WHERE id = ${i.id}`
        const first = yield* pool.tick
        assert.deepStrictEqual(counts(first), ran({ providerCalls: 1, healthChecks: 1 }))
        const moved = yield* row(i.id)
        assert.strictEqual(moved?.status, "starting")
        assert.strictEqual(moved?.url, `memory://${i.id}`, "the provider's address is recorded")
        const second = yield* pool.tick
        assert.deepStrictEqual(counts(second), ran({ promoted: 1, healthChecks: 1 }))
        assert.strictEqual((yield* pool.get(i.id)).status, "idle")
      }),
  )
})

layer(PoolTest(), { timeout: "60 seconds", excludeTestServices: true })("the tick: running instances", (it) => {
  it.effect(
    "one the provider reports at a new address moves there and its unhealthy clock resets once it answers; a gone one keeps its address",
    () =>
      Effect.gen(function* () {
        const {
          pool,
          cloud,
          sql,
          idle: [a, b],
        } = yield* idleInstances(2)
        const healthyBefore = (yield* row(a!.id))?.lastHealthyAt
        yield* sql`UPDATE instances SET url = 'memory://moved-a' WHERE id = ${a!.id}`
        yield* sql`UPDATE instances SET url = 'memory://moved-b' WHERE id = ${b!.id}`
        cloud.setState(b!.providerRef!, "gone")
        const first = yield* pool.tick
        assert.deepStrictEqual(counts(first), ran({ providerCalls: 1, healthChecks: 2 }), "within the grace period")
        const [movedA, goneB] = [yield* row(a!.id), yield* row(b!.id)]
        assert.strictEqual(movedA?.url, `memory://${a!.id}`)
        assert.strictEqual(goneB?.url, "memory://moved-b", "a gone instance's address is not news")
        assert.isNotNull(movedA?.unhealthySince)
        assert.isNotNull(goneB?.unhealthySince)
        const second = yield* pool.tick
        assert.deepStrictEqual(counts(second), ran({ providerCalls: 1, healthChecks: 2 }))
        const back = yield* row(a!.id)
        assert.strictEqual(back?.status, "idle")
        assert.isNull(back?.unhealthySince, "answering again resets the clock")
        assert.isAbove(back!.lastHealthyAt!.getTime(), healthyBefore!.getTime())
      }),
  )

  it.effect(
    "past the grace period a claimed one crashes (InstanceCrashed with its name) and an idle one dies (InstanceDead), each with the provider's word",
    () =>
      Effect.gen(function* () {
        yield* drainAll
        const pool = yield* Pool
        const cloud = yield* MemoryCloud
        const sql = yield* SqlClient.SqlClient
        yield* pool.replenish(2)
        yield* pool.tick
        const claimed = (yield* pool.claim({ key: "phases-crash", claimedBy: "p", agentName: "Scout" })).instance
        const [idle] = yield* pool.list({ status: ["idle"] })
        const { events, stop } = yield* recordEvents(pool)
        cloud.setState(claimed.providerRef!, "failed", "out of memory")
        cloud.setState(idle!.providerRef!, "gone")
        yield* sql`UPDATE instances SET unhealthy_since = now() - interval '1 hour' WHERE id IN (${claimed.id}, ${idle!.id})`
        const report = yield* pool.tick
        assert.deepStrictEqual(
          counts(report),
          ran({ markedDead: 1, markedCrashed: 1, destroyed: 1, providerCalls: 2, healthChecks: 2 }),
        )
        yield* stop
        assert.deepStrictEqual(tagged(events, "InstanceCrashed"), [
          {
            _tag: "InstanceCrashed",
            instanceId: claimed.id,
            agentName: "Scout",
            reason: "memory reports it failed (out of memory)",
          },
        ])
        assert.deepStrictEqual(tagged(events, "InstanceDead"), [
          { _tag: "InstanceDead", instanceId: idle!.id, reason: "memory reports it gone" },
        ])
        const crashed = yield* pool.get(claimed.id)
        assert.strictEqual(crashed.status, "crashed")
        assert.strictEqual(crashed.lastError, "memory reports it failed (out of memory)")
        // A crashed agent waits for its owner: neither its runtime nor the provider is asked about it.
        const statusBefore = cloud.stats.statusCalls
        const after = yield* pool.tick
        assert.deepStrictEqual(counts(after), ran({}))
        assert.strictEqual(cloud.stats.statusCalls, statusBefore)
      }),
  )

  it.effect("one the provider reports sleeping is not declared dead, however long its runtime has been silent", () =>
    Effect.gen(function* () {
      const {
        pool,
        cloud,
        sql,
        idle: [idle],
      } = yield* idleInstances(1)
      cloud.setState(idle!.providerRef!, "sleeping")
      yield* sql`UPDATE instances SET unhealthy_since = now() - interval '1 hour' WHERE id = ${idle!.id}`
      const report = yield* pool.tick
      assert.deepStrictEqual(counts(report), ran({ providerCalls: 1, healthChecks: 1 }))
      assert.strictEqual((yield* pool.get(idle!.id)).status, "idle")
    }),
  )
})

layer(PoolTest(), { timeout: "60 seconds", excludeTestServices: true })("the tick: orphan claims", (it) => {
  it.effect(
    "claims from before claim_owner are resolved by a new process's first tick only: kept when the runtime finished, else crashed during setup",
    () =>
      Effect.gen(function* () {
        const {
          pool,
          cloud,
          sql,
          idle: [done, cut, later],
        } = yield* idleInstances(3)
        // `done`: its runtime finished (a conversation, no invite yet); `cut`: it never began. Both left claiming
        // 5 s ago by a process that did not record its replica (no claim_owner): younger than the stuck rule.
        const finished = cloud.instances.get(done!.providerRef!)!
        finished.conversationId = "conv-done"
        finished.inviteUrl = null
        yield* sql`UPDATE instances SET status = 'claiming', claimed_by = 'x', claim_owner = NULL, agent_name = 'Cut',
          updated_at = now() - interval '5 seconds' WHERE id IN (${done!.id}, ${cut!.id})`
        const restarted = yield* startPool()
        const { events, stop } = yield* recordEvents(restarted.pool)
        const first = yield* restarted.pool.tick
        assert.strictEqual(first.markedCrashed, 1)
        const kept = yield* pool.get(done!.id)
        assert.strictEqual(kept.status, "claimed")
        assert.strictEqual(kept.conversationId, "conv-done")
        assert.isNull(kept.inviteUrl)
        const crashed = yield* pool.get(cut!.id)
        assert.strictEqual(crashed.status, "crashed")
        const reason = "setting up was interrupted (the pool process setting it up stopped) before the agent was ready"
        assert.strictEqual(crashed.lastError, reason)
        yield* stop
        assert.deepStrictEqual(tagged(events, "InstanceCrashed"), [
          { _tag: "InstanceCrashed", instanceId: cut!.id, agentName: "Cut", reason, duringSetup: true },
        ])
        // The same kind of claim, older than the process, seen by a later tick of it: left alone (it may be this
        // process's own claim under the old rule; the stuck rule settles it once past the provision timeout).
        yield* sql`UPDATE instances SET status = 'claiming', claimed_by = 'y', claim_owner = NULL,
          updated_at = now() - interval '5 seconds' WHERE id = ${later!.id}`
        const second = yield* restarted.pool.tick
        assert.strictEqual(second.markedCrashed, 0)
        assert.strictEqual((yield* pool.get(later!.id)).status, "claiming")
        yield* sql`UPDATE instances SET status = 'idle', claimed_by = NULL WHERE id = ${later!.id}`
        yield* restarted.close
      }),
  )
})
