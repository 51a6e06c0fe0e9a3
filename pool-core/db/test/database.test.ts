import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { loadPoolSettings } from "../../config.ts"
import { DatabaseLive, pgClientLayer } from "../Database.ts"
import { startEmbeddedPostgres } from "../pglite-server.ts"

const withEnv = (env: Record<string, string>) => ConfigProvider.layer(ConfigProvider.fromEnv({ env }))

describe("embedded PGlite over the wire protocol", () => {
  it.live("many connections running transactions at once do not interleave (the pglite-socket patch)", () =>
    Effect.gen(function* () {
      const embedded = yield* Effect.acquireRelease(
        Effect.promise(() => startEmbeddedPostgres()),
        (db) => Effect.promise(() => db.close()),
      )
      const program = Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)`
        yield* sql`INSERT INTO counter VALUES (1, 0)`
        // Extended-protocol transactions from 10 pooled connections: unpatched, their Parse/Bind/Execute messages
        // interleave on the single session and fail with `portal "" does not exist`.
        yield* Effect.forEach(
          Array.from({ length: 100 }),
          () =>
            sql.withTransaction(
              Effect.gen(function* () {
                const [row] = yield* sql<{ n: number }>`SELECT n FROM counter WHERE id = 1 FOR UPDATE`
                yield* sql`UPDATE counter SET n = ${row!.n + 1} WHERE id = 1`
              }),
            ),
          { concurrency: 20, discard: true },
        )
        const [row] = yield* sql<{ n: number }>`SELECT n FROM counter WHERE id = 1`
        return row!.n
      })
      const n = yield* program.pipe(Effect.provide(pgClientLayer(embedded.url, 10)))
      assert.strictEqual(n, 100)
    }),
  )

  it.live("DatabaseLive keeps the embedded data across a restart", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "convos-db-"))
      const env = withEnv({ DATA_DIR: dir })
      const write = Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`INSERT INTO settings (key, value) VALUES ('survives', 'yes')`
      })
      const read = Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ value: string }>`SELECT value FROM settings WHERE key = 'survives'`
      })
      yield* write.pipe(Effect.provide(DatabaseLive.pipe(Layer.provide(env))), Effect.scoped)
      const rows = yield* read.pipe(Effect.provide(DatabaseLive.pipe(Layer.provide(env))), Effect.scoped)
      rmSync(dir, { recursive: true, force: true })
      assert.deepStrictEqual(
        rows.map((r) => r.value),
        ["yes"],
      )
    }),
  )
})

describe("bad configuration fails at start naming the variable", () => {
  it.effect("POOL_MIN_IDLE=-1", () =>
    Effect.gen(function* () {
      const e = yield* Effect.flip(
        loadPoolSettings.pipe(Effect.provide(withEnv({ POOL_MIN_IDLE: "-1", DATA_DIR: tmpdir() }))),
      )
      assert.strictEqual(e.variable, "POOL_MIN_IDLE")
      assert.include(e.message, "POOL_MIN_IDLE")
    }),
  )

  it.effect("POOL_MAX_TOTAL below POOL_MIN_IDLE, and a non-number", () =>
    Effect.gen(function* () {
      const e1 = yield* Effect.flip(
        loadPoolSettings.pipe(Effect.provide(withEnv({ POOL_MIN_IDLE: "5", POOL_MAX_TOTAL: "2", DATA_DIR: tmpdir() }))),
      )
      assert.include(e1.message, "POOL_MAX_TOTAL")
      const e2 = yield* Effect.flip(
        loadPoolSettings.pipe(Effect.provide(withEnv({ POOL_TICK_INTERVAL: "soon", DATA_DIR: tmpdir() }))),
      )
      assert.include(e2.message, "POOL_TICK_INTERVAL")
    }),
  )

  it.live("DB_MAX_CONNECTIONS below 1 or not a whole number: InvalidConfig naming it, before connecting", () =>
    Effect.gen(function* () {
      for (const value of ["0", "-3", "1.5", "many"]) {
        // The URL points nowhere: a check that ran only after connecting would fail with a DatabaseError instead.
        const env = withEnv({ DB_MAX_CONNECTIONS: value, DATABASE_URL: "postgres://postgres@127.0.0.1:1/none" })
        const e = yield* Effect.flip(Effect.scoped(Layer.build(DatabaseLive.pipe(Layer.provide(env)))))
        assert.strictEqual(e._tag, "InvalidConfig", `DB_MAX_CONNECTIONS=${value}`)
        if (e._tag === "InvalidConfig") assert.strictEqual(e.variable, "DB_MAX_CONNECTIONS")
        assert.include(e.message, "DB_MAX_CONNECTIONS")
        assert.include(e.message, "≥ 1")
      }
    }),
  )

  it.live("DATABASE_URL that is not a Postgres URL, and one nobody answers", () =>
    Effect.gen(function* () {
      const bad = yield* Effect.flip(
        Effect.scoped(
          Layer.build(DatabaseLive.pipe(Layer.provide(withEnv({ DATABASE_URL: "mysql://root@localhost/x" })))),
        ),
      )
      assert.strictEqual(bad._tag, "InvalidConfig")
      assert.include(bad.message, "DATABASE_URL")
      const down = yield* Effect.flip(
        Effect.scoped(
          Layer.build(
            DatabaseLive.pipe(Layer.provide(withEnv({ DATABASE_URL: "postgres://postgres@127.0.0.1:1/none" }))),
          ),
        ),
      )
      assert.strictEqual(down._tag, "DatabaseError")
      assert.include(down.message, "DATABASE_URL")
    }),
  )
})
