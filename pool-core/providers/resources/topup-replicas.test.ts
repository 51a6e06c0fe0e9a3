import { randomUUID } from "node:crypto"
import { assert, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { hasPostgres, needsPostgres, TestDatabase, testDatabaseKind } from "../../db/testing.ts"
import { ReplicasHere } from "../../pool/ReplicasHere.ts"
import { AgentResources } from "../AgentResources.ts"
import { agentResourcesOverFakes, ProviderFakes, providerFakesLayer } from "./testing.ts"

// Two pool replicas (each with its own OpenRouter client and its own in-process state, as two processes have) on ONE
// database top up the same agent at the same moment, against the loopback OpenRouter. OpenRouter has no "add to
// limit", so each top-up reads the limit and sets limit + amount: unserialized, replicas overwrite each other's raise.
// The key's limit must end at exactly the start plus the sum. Reads of the key are slowed (30 ms) so the top-ups
// really overlap. Same-key retries from either replica must top up once.

const world = Effect.gen(function* () {
  const db = yield* Layer.build(TestDatabase)
  const fakes = yield* Layer.build(providerFakesLayer)
  const shared = Context.merge(db, fakes)
  // A replica: AgentResources with a fresh ReplicasHere (what another process would have), on the shared database.
  const replica = () =>
    Layer.build(
      agentResourcesOverFakes.pipe(Layer.provide(ReplicasHere.layer), Layer.provide(Layer.succeedContext(shared))),
    ).pipe(Effect.map((ctx) => Context.get(ctx, AgentResources)))
  const sql = Context.get(db, SqlClient.SqlClient)
  const openrouter = Context.get(fakes, ProviderFakes).openrouter
  return { replicas: [yield* replica(), yield* replica()] as const, sql, openrouter }
})

/** A claimed instance holding an OpenRouter key (cap 20 USD); returns its id and key hash. */
const claimedAgent = (w: Effect.Success<typeof world>) =>
  Effect.gen(function* () {
    const id = randomUUID()
    yield* w.sql`INSERT INTO instances (id, status, provider, token_hash) VALUES (${id}, 'claimed', 'memory', 'x')`
    const got = yield* w.replicas[0].acquire(id)
    return { id, hash: got.resources.find((r) => r.provider === "openrouter")!.externalId }
  })

const slowReads = (w: Effect.Success<typeof world>) =>
  w.openrouter.fail((r) => {
    const answer = w.openrouter.state.handle(r) as { status?: number; json?: unknown }
    return r.method === "GET" ? { ...answer, delayMs: 30 } : answer
  })

it.live.skipIf(!hasPostgres())(
  needsPostgres(
    "two replicas topping up one agent at once: the cap rises by exactly the sum, each top-up journalled once",
  ),
  () =>
    Effect.gen(function* () {
      assert.strictEqual(testDatabaseKind(), "postgres")
      const w = yield* world
      const { id, hash } = yield* claimedAgent(w)
      slowReads(w)
      const amounts = [1, 2, 3, 4, 5, 1.5, 2.5, 0.25, 0.75, 5] // 25 USD in 10 top-ups, alternating replicas
      const results = yield* Effect.forEach(
        amounts,
        (usd, i) => w.replicas[i % 2]!.topUp(id, usd, `test:${i}`, `k-${i}`),
        { concurrency: "unbounded" },
      )
      w.openrouter.restore()
      assert.strictEqual(w.openrouter.state.keys.get(hash)!.limit, 45, "20 USD + the sum of 25 USD: no raise lost")
      // Serialized: every top-up saw the one before it, so the new limits are 10 distinct steps ending at 45.
      assert.strictEqual(new Set(results.map((r) => r.limitUsd)).size, 10)
      const journal = yield* w.sql<{
        state: string
        n: number
      }>`SELECT state, count(*)::int AS n FROM topups WHERE instance_id = ${id} GROUP BY state`
      assert.deepStrictEqual(
        journal.map((r) => [r.state, r.n]),
        [["applied", 10]],
      )
      const events = yield* w.sql`SELECT 1 FROM events WHERE instance_id = ${id} AND kind = 'topup'`
      assert.strictEqual(events.length, 10)
    }).pipe(Effect.scoped),
  { timeout: 180_000 },
)

it.live(
  `the same idempotency key sent to both replicas at once tops up once (${testDatabaseKind()})`,
  () =>
    Effect.gen(function* () {
      const w = yield* world
      const { id, hash } = yield* claimedAgent(w)
      slowReads(w)
      const both = yield* Effect.forEach(w.replicas, (r) => r.topUp(id, 7, "test", "same-key"), {
        concurrency: "unbounded",
      })
      const again = yield* w.replicas[1].topUp(id, 7, "test", "same-key")
      w.openrouter.restore()
      assert.strictEqual(w.openrouter.state.keys.get(hash)!.limit, 27)
      assert.deepStrictEqual(
        both.map((r) => r.limitUsd),
        [27, 27],
      )
      assert.deepStrictEqual(both.map((r) => r.replayed).sort(), [false, true])
      assert.isTrue(again.replayed)
      // The key names one top-up: another amount under it is refused, naming the header.
      const reused = yield* Effect.flip(w.replicas[0].topUp(id, 3, "test", "same-key"))
      assert.strictEqual(reused._tag, "InvalidRequest")
      assert.include(reused.message, "use a new key")
    }).pipe(Effect.scoped),
  { timeout: 180_000 },
)

it.live(
  `a top-up cut off after it reached OpenRouter is settled as applied, one that never did is applied once on retry (${testDatabaseKind()})`,
  () =>
    Effect.gen(function* () {
      const w = yield* world
      const { id, hash } = yield* claimedAgent(w)
      // OpenRouter takes the PATCH but the answer never arrives (a timeout): the journal row stays pending.
      w.openrouter.fail((r) => {
        const answer = w.openrouter.state.handle(r) as { status?: number; json?: unknown }
        return r.method === "PATCH" ? { ...answer, delayMs: 5_000 } : answer
      })
      yield* Effect.flip(w.replicas[0].topUp(id, 4, "test", "cut-off"))
      w.openrouter.restore()
      assert.strictEqual(w.openrouter.state.keys.get(hash)!.limit, 24, "the PATCH arrived")
      // The client retries with the same key on the other replica: settled as applied, nothing sent again.
      const retried = yield* w.replicas[1].topUp(id, 4, "test", "cut-off")
      assert.deepStrictEqual([retried.limitUsd, retried.replayed], [24, true])
      assert.strictEqual(w.openrouter.state.keys.get(hash)!.limit, 24)
      // A PATCH refused outright: pending, then settled as not applied, and the retry applies it once.
      w.openrouter.fail((r) =>
        r.method === "PATCH"
          ? { status: 400, json: { error: { code: 400, message: "refused" } } }
          : w.openrouter.state.handle(r),
      )
      yield* Effect.flip(w.replicas[0].topUp(id, 2, "test", "refused"))
      w.openrouter.restore()
      const applied = yield* w.replicas[1].topUp(id, 2, "test", "refused")
      assert.deepStrictEqual([applied.limitUsd, applied.replayed], [26, false])
      assert.strictEqual(w.openrouter.state.keys.get(hash)!.limit, 26)
    }).pipe(Effect.scoped),
  { timeout: 180_000 },
)
