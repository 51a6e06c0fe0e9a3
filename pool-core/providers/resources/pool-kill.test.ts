import { randomUUID } from "node:crypto"
import { assert, expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { poolConfigLayer } from "../../config.ts"
import { TestDatabase } from "../../db/testing.ts"
import { Pool } from "../../pool/Pool.ts"
import { PoolLive } from "../../pool/PoolLive.ts"
import { MemoryCloud, memoryCloudLayer } from "../../pool/testing.ts"
import { openRouterUsageOf, sweepOrphanKeys } from "./maintenance.ts"
import { agentResourcesOverFakes, ProviderFakes, providerFakesLayer, testKeyName } from "./testing.ts"

// The real pool (PoolLive, real SQL) with the live AgentResources over loopback provider APIs: what a claim takes,
// kill and a failed claim give back, exactly once.

const PoolWithProviders = PoolLive.pipe(
  Layer.provideMerge(memoryCloudLayer()),
  Layer.provideMerge(agentResourcesOverFakes),
  Layer.provideMerge(providerFakesLayer),
  Layer.provideMerge(poolConfigLayer()),
  Layer.provideMerge(TestDatabase),
)

const deletes = (f: { api: { requests: Array<{ method: string; path: string }> } }) =>
  f.api.requests.filter((r) => r.method === "DELETE").map((r) => r.path)

const idleOne = Effect.gen(function* () {
  const pool = yield* Pool
  yield* pool.replenish(1)
  yield* pool.tick
  return pool
})

layer(PoolWithProviders, { timeout: "120 seconds", excludeTestServices: true })("pool + live AgentResources", (it) => {
  it.effect("a claim hands the resources to the runtime; a kill releases every one exactly once", () =>
    Effect.gen(function* () {
      const pool = yield* idleOne
      const fakes = yield* ProviderFakes
      const cloud = yield* MemoryCloud
      const sql = yield* SqlClient.SqlClient
      const claimed = yield* pool.claim({ key: "k-kill", claimedBy: "inbox-1", agentName: "Ada" })
      const id = claimed.instance.id
      const provisioned = [...cloud.instances.values()].find((i) => i.instanceId === id)!.provisioned!
      expect(provisioned.env?.OPENROUTER_API_KEY).toMatch(/^sk-or-v1-secret-/)
      // inbox, number and wallet are the pool's (the agent reaches them through /api/agent-services)
      assert.deepStrictEqual(Object.keys(provisioned.env ?? {}), ["OPENROUTER_API_KEY"])
      assert.deepStrictEqual(
        (yield* sql<{
          provider: string
        }>`SELECT provider FROM instance_resources WHERE instance_id = ${id} ORDER BY provider`).map((r) => r.provider),
        ["agentmail", "openrouter", "telnyx"],
      )
      assert.lengthOf(yield* sql`SELECT 1 FROM agent_wallets WHERE instance_id = ${id}`, 1)
      // nothing secret reaches the instances row or the events
      const stored = JSON.stringify(
        yield* sql`SELECT i.*, e.detail FROM instances i LEFT JOIN events e ON e.instance_id = i.id WHERE i.id = ${id}`,
      )
      expect(stored).not.toContain(provisioned.env!.OPENROUTER_API_KEY)

      yield* pool.kill(id)
      yield* Effect.flip(pool.kill(id)) // already gone
      assert.deepStrictEqual(deletes(fakes.openrouter), ["/api/v1/keys/hash-1"])
      assert.deepStrictEqual(deletes(fakes.agentmail), [
        `/v0/inboxes/${encodeURIComponent(`convos-test-${id}@agentmail.to`)}`,
      ])
      assert.strictEqual(fakes.openrouter.state.keys.size, 0)
      assert.strictEqual(fakes.agentmail.state.inboxes.size, 0)
      assert.deepStrictEqual(yield* sql`SELECT status FROM phone_numbers`, [{ status: "available" }])
      assert.lengthOf(yield* sql`SELECT 1 FROM instance_resources`, 0)
      assert.lengthOf(yield* sql`SELECT 1 FROM agent_wallets`, 0)
    }),
  )

  it.effect("a claim whose provisioning fails releases what it took; the next claim reuses the phone number", () =>
    Effect.gen(function* () {
      const pool = yield* idleOne
      const fakes = yield* ProviderFakes
      const cloud = yield* MemoryCloud
      const sql = yield* SqlClient.SqlClient
      const orDeletes = deletes(fakes.openrouter).length
      cloud.failProvisions(1, "runtime refused")
      const error = yield* Effect.flip(pool.claim({ key: "k-fail", claimedBy: "inbox-2" }))
      assert.strictEqual(error._tag, "ProvisionFailed")
      assert.strictEqual(deletes(fakes.openrouter).length - orDeletes, 1)
      assert.strictEqual(fakes.openrouter.state.keys.size, 0)
      assert.strictEqual(fakes.agentmail.state.inboxes.size, 0)
      assert.lengthOf(yield* sql`SELECT 1 FROM instance_resources`, 0)

      const ordersBefore = fakes.telnyx.state.ordered.length
      yield* idleOne
      const ok = yield* pool.claim({ key: "k-ok", claimedBy: "inbox-3" })
      assert.strictEqual(fakes.telnyx.state.ordered.length, ordersBefore, "pooled number reused, nothing bought")
      yield* pool.kill(ok.instance.id)
      for (const c of yield* pool.list()) yield* pool.kill(c.id)
      assert.lengthOf(yield* sql`SELECT 1 FROM instance_resources`, 0)
    }),
  )

  it.effect("a provider failing during a claim: claim fails, nothing is leaked, the error is recorded", () =>
    Effect.gen(function* () {
      const pool = yield* idleOne
      const fakes = yield* ProviderFakes
      const sql = yield* SqlClient.SqlClient
      fakes.agentmail.fail(() => ({ status: 503, json: { name: "Unavailable" } }))
      const error = yield* Effect.flip(pool.claim({ key: "k-am", claimedBy: "inbox-4" }))
      fakes.agentmail.restore()
      assert.strictEqual(error._tag, "ProvisionFailed")
      expect(error.message).toContain("agentmail")
      assert.strictEqual(fakes.openrouter.state.keys.size, 0)
      assert.lengthOf(yield* sql`SELECT 1 FROM instance_resources`, 0)
      assert.lengthOf(yield* sql`SELECT 1 FROM phone_numbers WHERE status = 'assigned'`, 0)
      const errors = yield* sql<{ provider: string }>`SELECT provider FROM resource_errors WHERE operation = 'acquire'`
      assert.deepStrictEqual(
        errors.map((e) => e.provider),
        ["agentmail"],
      )
    }),
  )
  it.effect("usage of a claimed agent's key; the sweep deletes only keys of instances that no longer exist", () =>
    Effect.gen(function* () {
      const pool = yield* idleOne
      const fakes = yield* ProviderFakes
      const claimed = yield* pool.claim({ key: "k-usage", claimedBy: "inbox-5" })
      const usage = yield* openRouterUsageOf(claimed.instance.id)
      assert.strictEqual(usage?.name, testKeyName(claimed.instance.id))
      assert.strictEqual(usage?.limit, 20)
      // a key leaked by a crash between create and record two hours ago: nobody holds it (the database is older)
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE schema_migrations SET created_at = now() - interval '1 day'`
      const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000).toISOString()
      for (const k of fakes.openrouter.state.keys.values()) k.created_at = twoHoursAgo
      const vanished = testKeyName(randomUUID())
      fakes.openrouter.state.keys.set("leak", {
        hash: "leak",
        name: vanished,
        limit: 20,
        usage: 0,
        limit_reset: "monthly",
        created_at: twoHoursAgo,
      })
      const swept = yield* sweepOrphanKeys
      assert.deepStrictEqual(swept, [vanished])
      assert.isTrue([...fakes.openrouter.state.keys.values()].some((k) => k.name === testKeyName(claimed.instance.id)))
      yield* pool.kill(claimed.instance.id)
      assert.isNull(yield* openRouterUsageOf(claimed.instance.id))
    }),
  )
})
