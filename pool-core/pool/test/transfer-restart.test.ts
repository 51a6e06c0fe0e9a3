import { assert, describe, layer } from "@effect/vitest"
import { Duration, Effect, Fiber, Stream } from "effect"
import { SqlClient } from "effect/sql"
import { DatabaseInfo } from "../../db/Database.ts"
import { needsPostgres, skipBackend, testBackends, testDatabaseOn } from "../../db/testing.ts"
import { InstanceNotFound, InvalidRequest } from "../../domain/errors.ts"
import { QuotaExceeded } from "../../domain/quota.ts"
import { Pool } from "../Pool.ts"
import { MemoryCloud, PoolTest } from "../testing.ts"

// An owner's transfer and restart at the pool, on real SQL: a transfer moves the agent (and its place under
// AGENTS_PER_OWNER) to the new owner, only from its owner and only within the new owner's limit, also when two
// transfers race for the last slot; a restart brings a crashed agent back on its own state and says so.

const quotas = { agentsPerOwner: 2, apiClaimsPerHour: 0, webAgentTtl: Duration.hours(1) }

const warm = (n: number) =>
  Effect.gen(function* () {
    const pool = yield* Pool
    for (const i of yield* pool.list()) yield* pool.kill(i.id)
    yield* pool.replenish(n)
    yield* pool.tick
    return pool
  })

for (const backend of testBackends())
  describe.skipIf(skipBackend(backend))(
    backend === "postgres" ? needsPostgres("ownership on postgres") : `ownership on ${backend}`,
    () => {
      layer(PoolTest({ database: testDatabaseOn(backend), settings: { quotas, deathGrace: Duration.zero } }), {
        timeout: "180 seconds",
        excludeTestServices: true,
      })((it) => {
        it.effect("transfer: only the owner gives it; the new owner holds it and its quota slot; events say so", () =>
          Effect.gen(function* () {
            assert.strictEqual((yield* DatabaseInfo).kind, backend)
            const pool = yield* warm(4)
            const { instance } = yield* pool.claim({ key: "a-0", claimedBy: "alice", quotaKeys: ["alice"] })
            // Not the owner: exactly like a missing agent, and nothing moves.
            const stranger = yield* Effect.flip(pool.transfer(instance.id, "mallory", "mallory"))
            assert.instanceOf(stranger, InvalidRequest)
            const notOwner = yield* Effect.flip(pool.transfer(instance.id, "mallory", "bob"))
            assert.instanceOf(notOwner, InstanceNotFound)
            assert.strictEqual((yield* pool.get(instance.id)).claimedBy, "alice")
            const self = yield* Effect.flip(pool.transfer(instance.id, "alice", "alice"))
            assert.instanceOf(self, InvalidRequest)

            const moved = yield* pool.transfer(instance.id, "alice", "bob")
            assert.strictEqual(moved.claimedBy, "bob")
            assert.strictEqual(moved.status, "claimed")
            const sql = yield* SqlClient.SqlClient
            const events = yield* sql<{ kind: string; detail: string }>`
              SELECT kind, detail FROM events WHERE instance_id = ${instance.id} AND kind = 'transfer'`
            assert.deepStrictEqual(
              events.map((e) => [e.kind, e.detail]),
              [["transfer", "alice -> bob"]],
            )
            assert.deepStrictEqual(
              (yield* pool.list({ claimedBy: "alice" })).map((i) => i.id),
              [],
            )
            // Alice's slot is free again (2 more claims pass), Bob's is taken (one more passes, the next is refused).
            yield* pool.claim({ key: "a-1", claimedBy: "alice", quotaKeys: ["alice"] })
            yield* pool.claim({ key: "a-2", claimedBy: "alice", quotaKeys: ["alice"] })
            yield* pool.claim({ key: "b-0", claimedBy: "bob", quotaKeys: ["bob"] })
            assert.instanceOf(
              yield* Effect.flip(pool.claim({ key: "b-1", claimedBy: "bob", quotaKeys: ["bob"] })),
              QuotaExceeded,
            )
            // Alice, the old owner, cannot give it again.
            assert.instanceOf(yield* Effect.flip(pool.transfer(instance.id, "alice", "carol")), InstanceNotFound)
          }),
        )

        it.effect(
          "transfer: refused when the new owner is at AGENTS_PER_OWNER, also when two race for the last slot",
          () =>
            Effect.gen(function* () {
              const pool = yield* warm(6)
              yield* pool.claim({ key: "d-0", claimedBy: "dana", quotaKeys: ["dana"] })
              const a = yield* pool.claim({ key: "e-0", claimedBy: "erin", quotaKeys: ["erin"] })
              const b = yield* pool.claim({ key: "f-0", claimedBy: "fred", quotaKeys: ["fred"] })
              const both = yield* Effect.all(
                [
                  Effect.result(pool.transfer(a.instance.id, "erin", "dana")),
                  Effect.result(pool.transfer(b.instance.id, "fred", "dana")),
                ],
                { concurrency: "unbounded" },
              )
              const passed = both.filter((r) => r._tag === "Success")
              const refused = both.flatMap((r) => (r._tag === "Failure" ? [r.failure] : []))
              assert.strictEqual(passed.length, 1, "one of two racing transfers passes the last slot")
              assert.instanceOf(refused[0], QuotaExceeded)
              assert.match(refused[0]!.message, /already have 2 agents/)
              assert.strictEqual((yield* pool.list({ claimedBy: "dana" })).length, 2)
              const stayed = [a, b].find((c) => passed[0]!.success.id !== c.instance.id)!
              assert.notStrictEqual((yield* pool.get(stayed.instance.id)).claimedBy, "dana", "the refused one stays")
            }),
        )

        it.effect("restart: a crashed agent runs again on its state and InstanceRecovered is published", () =>
          Effect.gen(function* () {
            const pool = yield* warm(2)
            const cloud = yield* MemoryCloud
            const { instance } = yield* pool.claim({ key: "g-0", claimedBy: "gina", agentName: "Scout" })
            const running = yield* Effect.flip(pool.restart(instance.id, "gina"))
            assert.match(running.message, /running, not crashed/)
            cloud.setState(instance.providerRef!, "failed")
            yield* pool.tick
            assert.strictEqual((yield* pool.get(instance.id)).status, "crashed")
            assert.instanceOf(yield* Effect.flip(pool.restart(instance.id, "mallory")), InstanceNotFound)

            const recovered = yield* pool.events.pipe(
              Stream.filter((e) => e._tag === "InstanceRecovered"),
              Stream.take(1),
              Stream.runCollect,
              Effect.forkChild,
            )
            yield* Effect.sleep(Duration.millis(50))
            const restartsBefore = cloud.stats.restarts
            const back = yield* pool.restart(instance.id, "gina")
            assert.strictEqual(back.status, "claimed")
            assert.strictEqual(back.lastError, null)
            assert.strictEqual(cloud.stats.restarts, restartsBefore + 1)
            // Its state is kept: the same provisioned agent and conversation, not a new one.
            assert.strictEqual(cloud.instances.get(instance.providerRef!)!.provisioned!.agentName, "Scout")
            assert.strictEqual(back.conversationId, instance.conversationId)
            const [event] = yield* Fiber.join(recovered)
            assert.deepStrictEqual(event, { _tag: "InstanceRecovered", instanceId: instance.id, agentName: "Scout" })
            // The next tick sees it healthy and leaves it running.
            yield* pool.tick
            assert.strictEqual((yield* pool.get(instance.id)).status, "claimed")
          }),
        )
      })
    },
  )
