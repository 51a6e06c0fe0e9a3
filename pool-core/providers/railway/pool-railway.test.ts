import { assert, expect, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import { poolConfigLayer } from "../../config.ts"
import { TestDatabase } from "../../db/testing.ts"
import { Pool } from "../../pool/Pool.ts"
import { PoolLive } from "../../pool/PoolLive.ts"
import { memoryCloudLayer } from "../../pool/testing.ts"
import { AgentResourcesNone } from "../AgentResources.ts"
import { fakeApi, type FakeApi, type Handler } from "../http/testing.ts"
import { railwayComputeLive } from "./RailwayCompute.ts"
import { railwayApi } from "./testing/fake.ts"
import { expectNothingRefused, testSettings } from "./testing/harness.ts"

// The real pool (PoolLive, real SQL) creating agents on Railway's loopback stand-in: what the pool does when Railway
// times out or answers garbage. (Runtime health/provision come from the in-memory cloud; only compute is Railway.)

const fake = railwayApi({ projectCreateWindowMs: 0 })
let api: FakeApi
const normal: Handler = (r) => fake.handle(r)

const railway = Layer.unwrap(
  Effect.map(
    fakeApi((r, n) => normal(r, n)),
    (started) => {
      api = started
      return railwayComputeLive(
        testSettings(started.url, {
          image: `ghcr.io/example/convos-agent-runtime@sha256:${"c".repeat(64)}`,
          startCommand: null,
          runtimeEnv: { XMTP_ENV: "dev", OPENROUTER_BASE_URL: "https://openrouter.ai/api/v1" },
          http: { baseDelay: "5 millis", timeout: "1 second", retries: 2 },
        }),
      )
    },
  ),
)

const PoolOnRailway = PoolLive.pipe(
  Layer.provide(railway),
  Layer.provideMerge(memoryCloudLayer()),
  Layer.provideMerge(AgentResourcesNone),
  Layer.provideMerge(poolConfigLayer({ deathGrace: Duration.zero })),
  Layer.provideMerge(TestDatabase),
)

const deadRows = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) =>
    sql<{
      id: string
      lastError: string | null
    }>`SELECT id, last_error FROM instances WHERE status = 'dead' ORDER BY created_at`,
)
const projectCreates = () =>
  api.requests.filter((r) => (r.body as { query: string }).query.includes("projectCreate")).length

layer(PoolOnRailway, { timeout: "60 seconds", excludeTestServices: true })("pool on Railway", (it) => {
  it.effect(
    "Railway timing out on every projectCreate (nothing made): tried 3 times after look-ups, instance dead with the reason",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const before = projectCreates()
        api.setHandler((r) =>
          (r.body as { query: string }).query.includes("projectCreate")
            ? { delayMs: 2_000, json: { data: null } }
            : fake.handle(r),
        )
        const error = yield* Effect.flip(pool.replenish(1)).pipe(
          Effect.ensuring(Effect.sync(() => api.setHandler(normal))),
        )
        expect(error.message).toContain("timed out")
        assert.strictEqual(projectCreates() - before, 3)
        const dead = yield* deadRows
        assert.lengthOf(dead, 1)
        expect(dead[0].lastError).toContain("timed out")
        assert.strictEqual(fake.projects.size, 0)
      }),
  )

  it.effect(
    "Railway answering garbage after it made the project: not retried, the project deleted by name, instance dead with the reason",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const before = projectCreates()
        api.setHandler(async (r) => {
          const reply = await fake.handle(r)
          return (r.body as { query: string }).query.includes("projectCreate") ? { raw: "<html>oops</html>" } : reply
        })
        yield* Effect.flip(pool.replenish(1)).pipe(Effect.ensuring(Effect.sync(() => api.setHandler(normal))))
        assert.strictEqual(projectCreates() - before, 1)
        const dead = yield* deadRows
        assert.lengthOf(dead, 2)
        expect(dead[1].lastError).toContain("not JSON")
        assert.strictEqual(fake.projects.size, 0, "the project the garbage answer stood for is gone")
      }),
  )

  it.effect("a healthy Railway: the instance starts with our image and the pool's runtime env", () =>
    Effect.gen(function* () {
      const pool = yield* Pool
      const [created] = yield* pool.replenish(1)
      const patch = fake.instanceOf(created.providerRef!).patch
      expect(patch?.image).toBe(`ghcr.io/example/convos-agent-runtime@sha256:${"c".repeat(64)}`)
      expect(patch?.variables).toMatchObject({ XMTP_ENV: { value: "dev" }, INSTANCE_ID: { value: created.id } })
    }),
  )

  it.effect(
    "Railway refusing a kill (Not Authorized): the row stays draining with the reason, the service is not forgotten",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const [created] = yield* pool.replenish(1)
        // the token lost its access: every call answers "Not Authorized" (which once read as "already gone")
        api.setHandler((r) => fake.handle({ ...r, headers: { ...r.headers, authorization: "Bearer revoked-token" } }))
        fake.setNotAuthorizedMessage("Not authorized to access this service")
        yield* pool.kill(created.id).pipe(
          Effect.ensuring(
            Effect.sync(() => {
              api.setHandler(normal)
              fake.setNotAuthorizedMessage("Not Authorized")
            }),
          ),
        )
        const row = yield* pool.get(created.id)
        assert.strictEqual(row.status, "draining")
        expect(row.lastError).toContain("Not authorized")
        assert.isTrue(
          fake.services.has(created.providerRef!),
          "the service still runs at Railway and the pool still knows it",
        )
      }),
  )

  it.effect(
    "a tick with one project deleted behind the pool's back: that instance is dead (gone), the others keep starting",
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const [kept, deleted] = yield* pool.replenish(2)
        fake.deleteProject(deleted.providerProjectRef!)
        yield* pool.tick
        const rows = yield* pool.list()
        const after = (id: string) => Option.fromNullishOr(rows.find((r) => r.id === id))
        assert.strictEqual(Option.getOrThrow(after(kept.id)).status, "starting")
        // dead with Railway's reason, or already destroyed and removed by the tick
        const gone = after(deleted.id)
        if (Option.isSome(gone)) {
          assert.strictEqual(gone.value.status, "dead")
          expect(gone.value.lastError).toContain("gone")
        }
        expectNothingRefused(fake)
      }),
  )
})
