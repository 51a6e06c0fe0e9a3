import { assert, describe, layer } from "@effect/vitest"
import { Effect, Exit, Option, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { DatabaseInfo } from "../../db/Database.ts"
import { needsPostgres, skipBackend, testBackends, testDatabaseOn } from "../../db/testing.ts"
import { Pool } from "../Pool.ts"
import { makePool } from "../PoolLive.ts"
import { makeInstanceRepo } from "../repo.ts"
import { MemoryCloud, PoolTest } from "../testing.ts"

const readyPool = (n: number) =>
  Effect.gen(function* () {
    const pool = yield* Pool
    yield* pool.replenish(n)
    yield* pool.tick
    return pool
  })

const drainAll = Effect.gen(function* () {
  const pool = yield* Pool
  for (const i of yield* pool.list()) yield* pool.kill(i.id)
})

/** An empty pool, then two idle instances a and b. */
const twoIdle = Effect.gen(function* () {
  yield* drainAll
  const pool = yield* readyPool(2)
  const [a, b] = yield* pool.list({ status: ["idle"] })
  return { pool, cloud: yield* MemoryCloud, sql: yield* SqlClient.SqlClient, a: a!, b: b! }
})

layer(PoolTest(), { timeout: "120 seconds", excludeTestServices: true })("Pool lifecycle", (it) => {
  it.effect("replenish → starting, tick → idle, with an events row per transition", () =>
    Effect.gen(function* () {
      yield* drainAll
      const pool = yield* Pool
      const created = yield* pool.replenish(3)
      assert.strictEqual(created.length, 3)
      assert.deepStrictEqual(
        created.map((i) => i.status),
        ["starting", "starting", "starting"],
      )
      const report = yield* pool.tick
      assert.isTrue(report.ran)
      assert.strictEqual(report.promoted, 3)
      assert.strictEqual(report.healthChecks, 3, "each runtime answered its own /pool/health")
      assert.strictEqual(report.providerCalls, 0, "ready runtimes need no provider call")
      const counts = yield* pool.counts
      assert.strictEqual(counts.idle, 3)
      const repo = yield* makeInstanceRepo
      const events = yield* repo.events(created[0]!.id)
      assert.deepStrictEqual(
        events.map((e) => [e.fromStatus, e.toStatus, e.kind]),
        [
          [null, "starting", "create"],
          ["starting", "idle", "ready"],
        ],
      )
    }),
  )

  it.effect("a stale transition is refused and writes no event", () =>
    Effect.gen(function* () {
      yield* drainAll
      const pool = yield* readyPool(1)
      const [idle] = yield* pool.list({ status: ["idle"] })
      const repo = yield* makeInstanceRepo
      const moved = yield* repo.transition(idle!.id, ["claimed"], "crashed", "test")
      assert.isTrue(Option.isNone(moved))
      assert.strictEqual((yield* pool.get(idle!.id)).status, "idle")
      assert.strictEqual((yield* repo.events(idle!.id)).length, 2)
    }),
  )

  it.effect("claim provisions through the runtime and is idempotent per key", () =>
    Effect.gen(function* () {
      yield* drainAll
      const pool = yield* readyPool(2)
      const cloud = yield* MemoryCloud
      const first = yield* pool.claim({
        key: "msg-1",
        claimedBy: "inbox-a",
        agentName: "Ada",
        instructions: "Be kind.",
      })
      assert.strictEqual(first.instance.status, "claimed")
      assert.strictEqual(first.instance.agentName, "Ada")
      assert.match(first.inviteUrl ?? "", /^https:\/\/dev\.convos\.org\/v2\?i=/)
      assert.isFalse(first.replayed)
      const again = yield* pool.claim({ key: "msg-1", claimedBy: "inbox-a", agentName: "Ada" })
      assert.isTrue(again.replayed)
      assert.strictEqual(again.instance.id, first.instance.id)
      assert.strictEqual((yield* pool.counts).idle, 1, "the replay claimed nothing new")
      const provisioned = [...cloud.instances.values()].find((i) => i.instanceId === first.instance.id)
      assert.strictEqual(provisioned?.provisioned?.instructions, "Be kind.")
    }),
  )

  it.effect("a failed provision leaves the instance crashed with the reason, never idle", () =>
    Effect.gen(function* () {
      yield* drainAll
      const pool = yield* readyPool(1)
      const cloud = yield* MemoryCloud
      cloud.failProvisions(1, "runtime exploded")
      const exit = yield* Effect.exit(pool.claim({ key: "msg-fail", claimedBy: "inbox-b" }))
      assert.isTrue(Exit.isFailure(exit))
      const [crashed] = yield* pool.list({ status: ["crashed"] })
      assert.include(crashed?.lastError ?? "", "runtime exploded")
      assert.strictEqual((yield* pool.counts).idle, 0)
    }),
  )

  it.effect("owner-scoped operations refuse other people's agents as if missing", () =>
    Effect.gen(function* () {
      yield* drainAll
      const pool = yield* readyPool(1)
      const mine = yield* pool.claim({ key: "msg-own", claimedBy: "inbox-owner" })
      const other = yield* Effect.flip(pool.rename(mine.instance.id, "inbox-intruder", "Mallory"))
      assert.strictEqual(other._tag, "InstanceNotFound")
      const renamed = yield* pool.rename(mine.instance.id, "inbox-owner", "Grace")
      assert.strictEqual(renamed.agentName, "Grace")
      yield* pool.release(mine.instance.id, "inbox-owner")
      assert.strictEqual((yield* Effect.flip(pool.get(mine.instance.id)))._tag, "InstanceNotFound")
    }),
  )

  it.effect(
    "an intruder's release, instruct and join are each refused by the Pool itself (not only by a router), and change nothing",
    () =>
      Effect.gen(function* () {
        yield* drainAll
        const pool = yield* readyPool(1)
        const mine = yield* pool.claim({
          key: "intruder-target",
          claimedBy: "inbox-owner",
          agentName: "Ada",
          instructions: "Be kind.",
        })
        const id = mine.instance.id
        const attempts = {
          release: pool.release(id, "inbox-intruder"),
          instruct: pool.instruct(id, "inbox-intruder", "Send me everything."),
          join: pool.join(id, "inbox-intruder", "https://dev.convos.org/v2?i=intruder-group"),
          rename: pool.rename(id, "inbox-intruder", "Mallory"),
        }
        for (const [what, attempt] of Object.entries(attempts)) {
          const refused = yield* Effect.flip(
            attempt as Effect.Effect<unknown, { readonly _tag: string; readonly message: string }>,
          )
          assert.strictEqual(refused._tag, "InstanceNotFound", `${what} by an intruder`)
          assert.notInclude(refused.message, "inbox-owner", `${what}: the refusal does not name the owner`)
        }
        const after = yield* pool.get(id)
        assert.deepStrictEqual(
          [after.status, after.claimedBy, after.agentName, after.instructions, after.joinUrl],
          ["claimed", "inbox-owner", "Ada", "Be kind.", null],
          "the agent is untouched",
        )
        // The owner can do each of them (the refusals above are about who asks, not about the requests).
        assert.strictEqual((yield* pool.instruct(id, "inbox-owner", "Be brief.")).instructions, "Be brief.")
        assert.isTrue((yield* pool.join(id, "inbox-owner", "https://dev.convos.org/v2?i=owner-group")).joined)
        yield* pool.release(id, "inbox-owner")
        assert.strictEqual((yield* Effect.flip(pool.get(id)))._tag, "InstanceNotFound")
      }),
  )

  it.effect("dismiss only takes crashed or dead instances; kill takes any and destroys once", () =>
    Effect.gen(function* () {
      yield* drainAll
      const pool = yield* readyPool(1)
      const cloud = yield* MemoryCloud
      const [idle] = yield* pool.list({ status: ["idle"] })
      assert.strictEqual((yield* Effect.flip(pool.dismiss(idle!.id)))._tag, "StaleTransition")
      const destroysBefore = cloud.stats.destroys
      yield* pool.kill(idle!.id)
      assert.strictEqual(cloud.stats.destroys, destroysBefore + 1)
      assert.strictEqual(cloud.stats.destroyedTwice, 0)
    }),
  )

  it.effect("the tick declares death only after the grace period", () =>
    Effect.gen(function* () {
      yield* drainAll
      const pool = yield* readyPool(1)
      const cloud = yield* MemoryCloud
      const [idle] = yield* pool.list({ status: ["idle"] })
      cloud.setState(idle!.providerRef!, "gone")
      yield* pool.tick
      assert.strictEqual((yield* pool.get(idle!.id)).status, "idle", "first sighting only starts the grace period")
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE instances SET unhealthy_since = now() - interval '1 hour' WHERE id = ${idle!.id}`
      const report = yield* pool.tick
      assert.strictEqual(report.markedDead, 1)
      assert.strictEqual(report.destroyed, 1, "a dead instance is destroyed in the same tick")
      const events = yield* (yield* makeInstanceRepo).events(idle!.id)
      const death = events.find((e) => e.fromStatus === "idle" && e.toStatus === "dead")
      assert.include(death?.detail ?? "", "gone")
      assert.deepStrictEqual(
        events.slice(-2).map((e) => [e.fromStatus, e.toStatus, e.kind]),
        [
          ["dead", "draining", "reap"],
          ["draining", null, "reap"],
        ],
      )
    }),
  )

  it.effect("a provider that cannot say (unknown) neither starts nor resets the grace period", () =>
    Effect.gen(function* () {
      const { pool, cloud, sql, a, b } = yield* twoIdle
      const unhealthySince = (id: string) =>
        sql<{ since: Date | null }>`SELECT unhealthy_since AS since FROM instances WHERE id = ${id}`.pipe(
          Effect.map((rows) => rows[0]!.since),
        )
      // a answers /pool/health: whatever the provider says, its clock never starts.
      assert.strictEqual(yield* unhealthySince(a!.id), null)
      // b: its runtime stopped answering an hour ago, and the provider cannot say → no death, the clock stands.
      cloud.setState(b!.providerRef!, "unknown")
      yield* pool.tick
      yield* sql`UPDATE instances SET unhealthy_since = now() - interval '1 hour' WHERE id = ${b!.id}`
      yield* pool.tick
      assert.strictEqual((yield* pool.get(b!.id)).status, "idle", "unknown never declares death")
      assert.isNotNull(yield* unhealthySince(b!.id), "unknown does not reset the unhealthy clock")
      cloud.setState(b!.providerRef!, "gone")
      const report = yield* pool.tick
      assert.strictEqual(report.markedDead, 1, "the next real sighting past the grace period is death")
      assert.strictEqual(
        (yield* Effect.flip(pool.get(b!.id)))._tag,
        "InstanceNotFound",
        "and the dead instance is destroyed",
      )
      assert.strictEqual((yield* pool.get(a!.id)).status, "idle")
    }),
  )

  it.effect("start-up resolves claims left in claiming: claimed when the runtime finished, else crashed", () =>
    Effect.gen(function* () {
      const { pool, cloud, sql, a, b } = yield* twoIdle
      // a: the runtime finished provisioning but the manager died before recording it; b: it died before provisioning.
      const memA = cloud.instances.get(a!.providerRef!)!
      memA.conversationId = "conv-finished"
      memA.inviteUrl = "https://dev.convos.org/v2?i=finished"
      yield* sql`UPDATE instances SET status = 'claiming', claimed_by = 'x', updated_at = now() - interval '1 minute' WHERE id IN (${a!.id}, ${b!.id})`
      const scope = yield* Scope.make()
      const restarted = yield* makePool.pipe(Scope.provide(scope))
      const report = yield* restarted.tick
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(report.markedCrashed, 1)
      const ra = yield* pool.get(a!.id)
      assert.strictEqual(ra.status, "claimed")
      assert.strictEqual(ra.inviteUrl, "https://dev.convos.org/v2?i=finished")
      const rb = yield* pool.get(b!.id)
      assert.strictEqual(rb.status, "crashed")
      assert.include(rb.lastError ?? "", "interrupted")
    }),
  )

  it.effect(
    "a key replayed by someone else never hands over the first person's agent; replays after a release or a failure say so",
    () =>
      Effect.gen(function* () {
        const { pool, cloud } = yield* twoIdle
        const alice = yield* pool.claim({ key: "shared-key", claimedBy: "alice" })
        const stolen = yield* Effect.flip(pool.claim({ key: "shared-key", claimedBy: "mallory" }))
        assert.strictEqual(stolen._tag, "InvalidRequest")
        assert.notInclude(JSON.stringify(stolen), alice.instance.id, "the refusal does not reveal the agent")
        assert.isTrue(
          (yield* pool.claim({ key: "shared-key", claimedBy: "alice" })).replayed,
          "the owner's own replay still works",
        )
        yield* pool.release(alice.instance.id, "alice")
        const afterRelease = yield* Effect.flip(pool.claim({ key: "shared-key", claimedBy: "alice" }))
        assert.strictEqual(afterRelease._tag, "ProvisionFailed")
        assert.include(afterRelease.message, "released already")
        cloud.failProvisions(1, "runtime exploded again")
        const failed = yield* Effect.flip(pool.claim({ key: "failing-key", claimedBy: "bob" }))
        assert.strictEqual(failed._tag, "ProvisionFailed")
        const again = yield* Effect.flip(pool.claim({ key: "failing-key", claimedBy: "bob" }))
        assert.strictEqual(again._tag, "ProvisionFailed")
        assert.include(again.message, "runtime exploded again", "the replay answers the first failure")
        assert.strictEqual((yield* pool.counts).claimed, 0, "no replay took another instance")
      }),
  )

  it.effect(
    "a claimed agent the provider lost is crashed (with the reason) only after the grace period; a recovered one's clock resets",
    () =>
      Effect.gen(function* () {
        const { pool, cloud, sql, a, b } = yield* twoIdle
        const claimedA = (yield* pool.claim({ key: "lost-a", claimedBy: "owner-a" })).instance
        const claimedB = (yield* pool.claim({ key: "lost-b", claimedBy: "owner-b" })).instance
        assert.sameMembers([claimedA.id, claimedB.id], [a!.id, b!.id])
        cloud.setState(claimedA.providerRef!, "gone")
        cloud.setState(claimedB.providerRef!, "failed")
        const first = yield* pool.tick
        assert.strictEqual(first.markedCrashed, 0, "first sighting only starts the grace period")
        assert.deepStrictEqual(
          [(yield* pool.get(claimedA.id)).status, (yield* pool.get(claimedB.id)).status],
          ["claimed", "claimed"],
        )
        // B comes back before its grace ran out: its clock resets. A stays gone past the grace period: crashed.
        cloud.setState(claimedB.providerRef!, "running")
        yield* sql`UPDATE instances SET unhealthy_since = now() - interval '1 hour' WHERE id = ${claimedA.id}`
        const second = yield* pool.tick
        assert.strictEqual(second.markedCrashed, 1)
        const lost = yield* pool.get(claimedA.id)
        assert.strictEqual(lost.status, "crashed")
        assert.include(lost.lastError ?? "", "gone")
        const back = yield* pool.get(claimedB.id)
        assert.strictEqual(back.status, "claimed")
        const [row] = yield* sql<{
          since: Date | null
        }>`SELECT unhealthy_since AS since FROM instances WHERE id = ${claimedB.id}`
        assert.isNull(row!.since, "a recovered agent's unhealthy clock is reset")
      }),
  )

  it.effect(
    "a claim stuck far beyond POOL_PROVISION_TIMEOUT is resolved even though its own replica is alive; a young one is left alone",
    () =>
      Effect.gen(function* () {
        const { pool, sql, a, b } = yield* twoIdle
        const me = (yield* Pool).replica.id
        // a: in claiming for an hour (far beyond the timeout + 10 s); b: in claiming just now. Both by this live replica.
        yield* sql`UPDATE instances SET status = 'claiming', claimed_by = 'x', claim_owner = ${me}, updated_at = now() - interval '1 hour' WHERE id = ${a!.id}`
        yield* sql`UPDATE instances SET status = 'claiming', claimed_by = 'y', claim_owner = ${me}, updated_at = now() WHERE id = ${b!.id}`
        const report = yield* pool.tick
        assert.strictEqual(report.markedCrashed, 1)
        const stuck = yield* pool.get(a!.id)
        assert.strictEqual(stuck.status, "crashed")
        assert.include(stuck.lastError ?? "", "not finished within")
        assert.strictEqual((yield* pool.get(b!.id)).status, "claiming", "a claim still in its time is never touched")
        yield* sql`UPDATE instances SET status = 'idle', claimed_by = NULL, claim_owner = NULL WHERE id = ${b!.id}`
      }),
  )

  it.effect(
    "a destroy that failed earlier (draining for over 30 s) is retried by the tick: compute destroyed, row gone",
    () =>
      Effect.gen(function* () {
        const { pool, cloud, sql, a, b } = yield* twoIdle
        yield* sql`UPDATE instances SET status = 'draining', updated_at = now() - interval '1 minute' WHERE id = ${a!.id}`
        yield* sql`UPDATE instances SET status = 'draining', updated_at = now() WHERE id = ${b!.id}`
        const destroysBefore = cloud.stats.destroys
        yield* pool.tick
        assert.strictEqual(
          (yield* Effect.flip(pool.get(a!.id)))._tag,
          "InstanceNotFound",
          "the old draining row is destroyed",
        )
        assert.strictEqual(cloud.stats.destroys, destroysBefore + 1)
        assert.isFalse(
          cloud.instances.has(a!.providerRef!) && cloud.instances.get(a!.providerRef!)!.state === "running",
        )
        assert.strictEqual((yield* pool.get(b!.id)).status, "draining", "a destroy just started is not retried yet")
      }),
  )

  it.effect("bad input gets a clear InvalidRequest naming the field", () =>
    Effect.gen(function* () {
      const pool = yield* Pool
      const e1 = yield* Effect.flip(pool.claim({ key: "", claimedBy: "x" }))
      assert.strictEqual(e1._tag, "InvalidRequest")
      const e2 = yield* Effect.flip(pool.claim({ key: "k", claimedBy: "x", templateSlug: "nope" }))
      assert.strictEqual(e2._tag, "InvalidRequest")
      assert.include(e2.message, "research-assistant")
      const e3 = yield* Effect.flip(pool.replenish(-1))
      assert.strictEqual(e3._tag, "InvalidRequest")
      const templates = yield* pool.templates
      assert.isAtLeast(templates.length, 12)
    }),
  )
})

// On every backend in the same run: PGlite, and Postgres (skipped, saying so, without a server URL). Only Postgres
// proves the row locks (PGlite runs one statement at a time), so that copy carries the NEEDS_POSTGRES marker.
for (const backend of testBackends())
  describe.skipIf(skipBackend(backend))(
    backend === "postgres" ? needsPostgres("concurrent claims on postgres") : `concurrent claims on ${backend}`,
    () => {
      layer(PoolTest({ database: testDatabaseOn(backend) }), { timeout: "180 seconds", excludeTestServices: true })(
        (it) => {
          it.effect(
            "200 concurrent claims against 50 idle: exactly 50 succeed, 150 get NoAgentAvailable, no double claims",
            () =>
              Effect.gen(function* () {
                assert.strictEqual((yield* DatabaseInfo).kind, backend, "runs on the backend it names")
                const pool = yield* readyPool(50)
                assert.strictEqual((yield* pool.counts).idle, 50)
                const results = yield* Effect.forEach(
                  Array.from({ length: 200 }, (_, i) => i),
                  (i) => Effect.result(pool.claim({ key: `concurrent-${i}`, claimedBy: `person-${i}` })),
                  { concurrency: "unbounded" },
                )
                const ok = results.flatMap((r) => (r._tag === "Success" ? [r.success] : []))
                const errors = results.flatMap((r) => (r._tag === "Failure" ? [r.failure._tag] : []))
                assert.strictEqual(ok.length, 50)
                assert.deepStrictEqual([...new Set(errors)], ["NoAgentAvailable"])
                assert.strictEqual(new Set(ok.map((r) => r.instance.id)).size, 50, "no instance handed out twice")
                const sql = yield* SqlClient.SqlClient
                const [row] = yield* sql<{ claimed: number; owners: number; claims: number }>`
          SELECT (SELECT count(*)::int FROM instances WHERE status = 'claimed') AS claimed,
                 (SELECT count(DISTINCT claimed_by)::int FROM instances WHERE status = 'claimed') AS owners,
                 (SELECT count(*)::int FROM claims) AS claims`
                assert.deepStrictEqual(row, { claimed: 50, owners: 50, claims: 50 })
              }),
          )

          it.effect("the same key sent three times at once claims one instance; the repeats replay it", () =>
            Effect.gen(function* () {
              yield* drainAll
              const pool = yield* readyPool(30)
              // 20 keys × 3 deliveries, interleaved so repeats land in the same batch and in concurrent ones.
              const requests = Array.from({ length: 60 }, (_, i) => ({
                key: `redelivered-${i % 20}`,
                claimedBy: `person-${i % 20}`,
              }))
              const results = yield* Effect.forEach(requests, (r) => pool.claim(r), { concurrency: "unbounded" })
              const byKey = new Map<string, Array<(typeof results)[number]>>()
              results.forEach((r, i) => {
                byKey.set(requests[i]!.key, [...(byKey.get(requests[i]!.key) ?? []), r])
              })
              for (const [key, answers] of byKey) {
                assert.strictEqual(
                  new Set(answers.map((a) => a.instance.id)).size,
                  1,
                  `${key} answered with one instance`,
                )
                assert.strictEqual(answers.filter((a) => !a.replayed).length, 1, `${key} claimed once, replayed twice`)
              }
              const counts = yield* pool.counts
              assert.strictEqual(counts.claimed, 20)
              assert.strictEqual(counts.idle, 10)
            }),
          )
        },
      )
    },
  )
