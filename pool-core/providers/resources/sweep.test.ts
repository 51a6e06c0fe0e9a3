import { randomUUID } from "node:crypto"
import { assert, describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { TestDatabase } from "../../db/testing.ts"
import { fakeApi } from "../http/testing.ts"
import { managementKey, openRouterApi } from "../openrouter/fake.ts"
import { keyName, OpenRouter, openRouterLive } from "../openrouter/OpenRouter.ts"
import { sweepOrphanKeys } from "./maintenance.ts"

// The hourly key sweep against real SQL and one loopback OpenRouter shared by two deployments (one management key,
// as staging and production often share): each deletes only its own environment's orphans, and a database that is
// new or empty deletes nothing.

const HOUR = 3_600_000
const http = { baseDelay: "5 millis", timeout: "500 millis", retries: 1 } as const

/** One deployment: its own database and an OpenRouter layer of its environment, over the shared fake. */
const deployment = (url: string, environment: string) =>
  Layer.build(
    Layer.merge(
      TestDatabase,
      openRouterLive({
        managementKey: Redacted.make(managementKey),
        environment,
        baseUrl: url,
        keyLimit: 20,
        limitReset: "monthly",
        http,
      }),
    ),
  )

type Deployment = Context.Context<SqlClient.SqlClient | OpenRouter>

const sweepIn = <A>(deployment: Deployment, setup: Effect.Effect<A, unknown, SqlClient.SqlClient | OpenRouter>) =>
  Effect.gen(function* () {
    const a = yield* setup
    return { a, swept: yield* sweepOrphanKeys }
  }).pipe(Effect.provide(deployment))

const addInstance = (id: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`INSERT INTO instances (id, status, provider, token_hash) VALUES (${id}, 'claimed', 'memory', 'h')`
  })

/** Makes the database look `ms` old (its first migration ran then). */
const ageDatabase = (ms: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`UPDATE schema_migrations SET created_at = now() - ${`${Math.round(ms / 1000)} seconds`}::interval`
  })

describe("OpenRouter key sweep (hourly, maintenance.sweepOrphanKeys)", () => {
  it.live(
    "two environments sharing one management key never delete each other's keys",
    () =>
      Effect.gen(function* () {
        const fake = openRouterApi()
        const api = yield* fakeApi(fake.handle)
        const staging = yield* deployment(api.url, "staging")
        const production = yield* deployment(api.url, "production")
        const [stagingLive, stagingGone, prodLive, prodGone] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()]
        const backdate = () => {
          for (const k of fake.keys.values()) k.created_at = new Date(Date.now() - 2 * HOUR).toISOString()
        }
        const create = (ids: ReadonlyArray<string>) =>
          Effect.gen(function* () {
            const or = yield* OpenRouter
            yield* Effect.forEach(ids, (id) => or.createKey(id))
          })

        // each deployment made two keys; one of each lost its instance row (an orphan of that environment)
        const first = yield* sweepIn(
          staging,
          Effect.andThen(
            create([stagingLive, stagingGone]),
            Effect.andThen(addInstance(stagingLive), ageDatabase(24 * HOUR)),
          ),
        )
        assert.deepStrictEqual(first.swept, []) // its keys are younger than the grace period
        yield* sweepIn(
          production,
          Effect.andThen(create([prodLive, prodGone]), Effect.andThen(addInstance(prodLive), ageDatabase(24 * HOUR))),
        )
        backdate()

        const stagingSweep = yield* sweepIn(staging, Effect.void)
        assert.deepStrictEqual(stagingSweep.swept, [keyName("staging", stagingGone)])
        const productionSweep = yield* sweepIn(production, Effect.void)
        assert.deepStrictEqual(productionSweep.swept, [keyName("production", prodGone)])
        expect([...fake.keys.values()].map((k) => k.name).sort()).toEqual(
          [keyName("production", prodLive), keyName("staging", stagingLive)].sort(),
        )
      }).pipe(Effect.scoped),
    { timeout: 240_000 }, // two migrated databases: slow on a loaded machine
  )

  it.live(
    "a new or empty database deletes nothing; keys older than the database are never its to delete",
    () =>
      Effect.gen(function* () {
        const fake = openRouterApi()
        const api = yield* fakeApi(fake.handle)
        const live = randomUUID()
        const orphans = [randomUUID(), randomUUID()]
        const keyOf = (id: string, hoursAgo: number) =>
          fake.keys.set(id, {
            hash: id,
            name: keyName("staging", id),
            limit: 20,
            usage: 0,
            limit_reset: "monthly",
            created_at: new Date(Date.now() - hoursAgo * HOUR).toISOString(),
          })
        keyOf(live, 3)
        keyOf(orphans[0]!, 3)
        keyOf(orphans[1]!, 30)
        const all = [...fake.keys.keys()].sort()
        const staging = yield* deployment(api.url, "staging")

        // a day-old database that knows no instance
        const empty = yield* sweepIn(staging, ageDatabase(24 * HOUR))
        assert.deepStrictEqual(empty.swept, [])
        // a brand-new database (just made) with the live instance in it
        const fresh = yield* sweepIn(staging, Effect.andThen(ageDatabase(0), addInstance(live)))
        assert.deepStrictEqual(fresh.swept, [])
        expect([...fake.keys.keys()].sort()).toEqual(all)
        // a day-old database that knows the live instance: only the orphan created in its lifetime goes
        const known = yield* sweepIn(staging, ageDatabase(24 * HOUR))
        assert.deepStrictEqual(known.swept, [keyName("staging", orphans[0]!)])
        expect([...fake.keys.keys()].sort()).toEqual([live, orphans[1]!].sort())
      }).pipe(Effect.scoped),
    { timeout: 240_000 }, // two migrated databases: slow on a loaded machine
  )
})
