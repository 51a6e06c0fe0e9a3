import { assert, describe, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { SqlClient } from "effect/sql"
import { DatabaseInfo } from "../../db/Database.ts"
import { needsPostgres, skipBackend, testBackends, testDatabaseOn } from "../../db/testing.ts"
import { QuotaExceeded } from "../../domain/quota.ts"
import { Pool } from "../Pool.ts"
import { makeInstanceRepo } from "../repo.ts"
import { PoolTest, startPool } from "../testing.ts"

// Quotas at the pool: AGENTS_PER_OWNER live agents per owner key (chat user; web visitor and their IP), claims per
// hour per API label, and the release of web-launched agents after WEB_AGENT_TTL. Counted in SQL under per-owner
// locks, so concurrent claims of one owner cannot both pass the last slot.

const quotas = { agentsPerOwner: 3, apiClaimsPerHour: 2, webAgentTtl: Duration.hours(1) }

const warm = (n: number) =>
  Effect.gen(function* () {
    const pool = yield* Pool
    for (const i of yield* pool.list()) yield* pool.kill(i.id)
    yield* pool.replenish(n)
    yield* pool.tick
    return pool
  })

const failureOf = <A, E>(
  r: { readonly _tag: "Success"; readonly success: A } | { readonly _tag: "Failure"; readonly failure: E },
) => (r._tag === "Failure" ? r.failure : null)

// PGlite always, Postgres too (skipped, saying so, without a server URL): only Postgres runs the replicas' statements
// side by side, so only there does the concurrency test prove the locks.
for (const backend of testBackends())
  describe.skipIf(skipBackend(backend))(
    backend === "postgres" ? needsPostgres("quotas on postgres") : `quotas on ${backend}`,
    () => {
      layer(PoolTest({ database: testDatabaseOn(backend), settings: { quotas } }), {
        timeout: "180 seconds",
        excludeTestServices: true,
      })((it) => {
        it.effect(
          "a 4th live agent of one person is refused with QuotaExceeded; others are unaffected; a release frees a slot",
          () =>
            Effect.gen(function* () {
              assert.strictEqual((yield* DatabaseInfo).kind, backend)
              const pool = yield* warm(8)
              const mine = []
              for (let i = 0; i < 3; i++) mine.push(yield* pool.claim({ key: `alice-${i}`, claimedBy: "alice" }))
              const fourth = yield* Effect.flip(pool.claim({ key: "alice-3", claimedBy: "alice" }))
              assert.instanceOf(fourth, QuotaExceeded)
              assert.strictEqual((fourth as QuotaExceeded).kind, "live")
              assert.strictEqual((fourth as QuotaExceeded).limit, 3)
              assert.match(fourth.message, /already have 3 agents.*Release one/)
              // Nothing was taken for the refused claim, and someone else still gets an agent.
              assert.strictEqual((yield* pool.counts).idle, 5)
              yield* pool.claim({ key: "bob-0", claimedBy: "bob" })
              // The same key again is a replay of the first answer, not a new claim.
              assert.isTrue((yield* pool.claim({ key: "alice-0", claimedBy: "alice" })).replayed)
              yield* pool.release(mine[0]!.instance.id, "alice")
              const again = yield* pool.claim({ key: "alice-4", claimedBy: "alice" })
              assert.strictEqual(again.instance.claimedBy, "alice")
            }),
        )

        it.effect("40 concurrent claims of two owners holding 2 agents each: exactly one more each passes", () =>
          Effect.gen(function* () {
            const pool = yield* warm(30)
            for (const owner of ["carol", "dave"])
              for (let i = 0; i < 2; i++) yield* pool.claim({ key: `${owner}-pre-${i}`, claimedBy: owner })
            const results = yield* Effect.forEach(
              Array.from({ length: 40 }, (_, i) => i),
              (i) => Effect.result(pool.claim({ key: `race-${i}`, claimedBy: i % 2 === 0 ? "carol" : "dave" })),
              { concurrency: "unbounded" },
            )
            const passed = results.filter((r) => r._tag === "Success")
            const refused = results.map(failureOf).filter((f) => f instanceof QuotaExceeded)
            assert.strictEqual(passed.length, 2, "one more agent each")
            assert.strictEqual(refused.length, 38)
            for (const owner of ["carol", "dave"])
              assert.strictEqual(
                (yield* pool.list({ claimedBy: owner, status: ["claiming", "claimed"] })).length,
                3,
                owner,
              )
          }),
        )

        it.effect(
          "four replicas claiming at once for ten owners at 2 agents each: exactly one more per owner passes",
          () =>
            Effect.gen(function* () {
              const pool = yield* warm(60)
              const owners = Array.from({ length: 10 }, (_, i) => `owner-${i}`)
              for (const owner of owners)
                for (let i = 0; i < 2; i++) yield* pool.claim({ key: `${owner}-pre-${i}`, claimedBy: owner })
              // Each replica has its own batcher and connections: their statements really run side by side on Postgres.
              const others = yield* Effect.forEach([1, 2, 3], () => startPool())
              const replicas = [pool, ...others.map((o) => o.pool)]
              const results = yield* Effect.forEach(
                replicas.flatMap((replica, r) =>
                  owners.map((owner) => ({ replica, owner, key: `${owner}-race-${r}` })),
                ),
                ({ replica, owner, key }) => Effect.result(replica.claim({ key, claimedBy: owner })),
                { concurrency: "unbounded" },
              )
              assert.strictEqual(
                results.filter((r) => r._tag === "Success").length,
                owners.length,
                "one more agent per owner",
              )
              assert.strictEqual(
                results.map(failureOf).filter((f) => f instanceof QuotaExceeded).length,
                owners.length * 3,
              )
              for (const owner of owners)
                assert.strictEqual(
                  (yield* pool.list({ claimedBy: owner, status: ["claiming", "claimed"] })).length,
                  3,
                  owner,
                )
              for (const o of others) yield* o.close
            }),
        )

        it.effect("a web visitor's IP address is an owner too: a fresh cookie from the same address is refused", () =>
          Effect.gen(function* () {
            const pool = yield* warm(6)
            for (let i = 0; i < 3; i++)
              yield* pool.claim({ key: `web-a-${i}`, claimedBy: "web:visitor-a", quotaKeys: ["web-ip:203.0.113.7"] })
            const fresh = yield* Effect.flip(
              pool.claim({ key: "web-b-0", claimedBy: "web:visitor-b", quotaKeys: ["web-ip:203.0.113.7"] }),
            )
            assert.instanceOf(fresh, QuotaExceeded)
            const elsewhere = yield* pool.claim({
              key: "web-c-0",
              claimedBy: "web:visitor-b",
              quotaKeys: ["web-ip:198.51.100.1"],
            })
            assert.strictEqual(elsewhere.instance.claimedBy, "web:visitor-b")
          }),
        )

        it.effect(
          "an API label is capped per hour (API_CLAIMS_PER_HOUR), not by live agents, and says when to retry",
          () =>
            Effect.gen(function* () {
              const pool = yield* warm(6)
              yield* pool.claim({ key: "acme-0", claimedBy: "api:acme" })
              const second = yield* pool.claim({ key: "acme-1", claimedBy: "api:acme" })
              // Releasing does not give the hour back: the cap counts claims made, not agents held.
              yield* pool.release(second.instance.id, "api:acme")
              const third = yield* Effect.flip(pool.claim({ key: "acme-2", claimedBy: "api:acme" }))
              assert.instanceOf(third, QuotaExceeded)
              assert.strictEqual((third as QuotaExceeded).kind, "hourly")
              assert.isAbove((third as QuotaExceeded).retryAfterSeconds, 0)
              assert.isAtMost((third as QuotaExceeded).retryAfterSeconds, 3600)
              yield* pool.claim({ key: "other-0", claimedBy: "api:other" })
            }),
        )

        it.effect(
          "web-launched agents are released after WEB_AGENT_TTL by the tick, with 'expire' events; chat agents and fresh ones stay",
          () =>
            Effect.gen(function* () {
              const pool = yield* warm(4)
              const sql = yield* SqlClient.SqlClient
              const repo = yield* makeInstanceRepo
              const old = yield* pool.claim({ key: "ttl-old", claimedBy: "web:old-visitor" })
              const fresh = yield* pool.claim({ key: "ttl-fresh", claimedBy: "web:new-visitor" })
              const chat = yield* pool.claim({ key: "ttl-chat", claimedBy: "erin" })
              // Two hours ago, twice the configured TTL (instead of waiting for it).
              yield* sql`UPDATE instances SET claimed_at = now() - interval '2 hours' WHERE id IN (${old.instance.id}, ${chat.instance.id})`
              yield* pool.tick
              const left = new Set((yield* pool.list()).map((i) => i.id))
              assert.isFalse(left.has(old.instance.id), "the expired web agent is released")
              assert.isTrue(left.has(fresh.instance.id), "a fresh web agent stays")
              assert.isTrue(left.has(chat.instance.id), "chat agents do not expire")
              const kinds = (yield* repo.events(old.instance.id)).map((e) => `${e.kind}:${e.fromStatus}->${e.toStatus}`)
              assert.includeMembers(kinds, ["expire:claimed->draining", "expire:draining->null"])
            }),
        )
      })
    },
  )
