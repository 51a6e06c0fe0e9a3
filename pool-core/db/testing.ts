import { randomBytes } from "node:crypto"
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PGlite } from "@electric-sql/pglite"
import { Effect, Layer, type Scope } from "effect"
import { SqlClient } from "effect/sql"
import { DatabaseInfo, describeUrl, pgClientLayer } from "./Database.ts"
import { ReplicasHere } from "../pool/ReplicasHere.ts"
import { MigrationsLive } from "./migrations.ts"
import { startEmbeddedPostgres } from "./pglite-server.ts"

// Test database: every layer build gets its own migrated database that nobody else sees.
// - TEST_DATABASE_URL / DATABASE_URL set (CI): a fresh schema on that server (search_path), dropped afterwards,
//   so test files can run in parallel on one server.
// - otherwise: a fresh embedded PGlite, started from a cached initdb snapshot (~0.5 s instead of 3–6 s).

const serverUrl = (): string | undefined => process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || undefined

const pgliteSnapshotFile = () => {
  // pool-core pins the exact PGlite version, so it keys the snapshot.
  const version = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).dependencies[
    "@electric-sql/pglite"
  ]
  return join(tmpdir(), `convos-agents-pglite-${version}.tar.gz`)
}

const pgliteSnapshot = Effect.promise(async () => {
  const file = pgliteSnapshotFile()
  if (!existsSync(file)) {
    const db = await PGlite.create()
    const dump = await db.dumpDataDir("gzip")
    await db.close()
    const tmp = `${file}.${process.pid}.tmp`
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()))
    renameSync(tmp, file) // atomic: parallel test workers never read a half-written snapshot
  }
  return new Blob([readFileSync(file)])
})

/** What the database layer provides besides SQL: its description, and a fresh ReplicasHere (one per database). */
const withInfo = (kind: "postgres" | "embedded", location: string) =>
  Layer.merge(Layer.succeed(DatabaseInfo, { kind, location }), ReplicasHere.layer)

export interface TestDatabaseOptions {
  /** Connections in the pool (default: DB_MAX_CONNECTIONS or 20 on a server, 10 on PGlite). */
  readonly maxConnections?: number
  /** The URL the code under test connects with, from the real one (e.g. through a relay a test can cut). */
  readonly via?: (url: string) => Effect.Effect<string, never, Scope.Scope>
}

const appUrl = (url: string, options: TestDatabaseOptions) => (options.via ? options.via(url) : Effect.succeed(url))

const schemaLayer = (url: string, options: TestDatabaseOptions = {}) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const schema = `test_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`
      const admin = pgClientLayer(url, 1)
      yield* Effect.acquireRelease(
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          yield* sql.unsafe(`CREATE SCHEMA ${schema}`)
        }).pipe(Effect.provide(admin), Effect.orDie),
        () =>
          Effect.gen(function* () {
            const sql = yield* SqlClient.SqlClient
            yield* sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
          }).pipe(Effect.provide(admin), Effect.ignore),
      )
      const connectTo = yield* appUrl(url, options)
      return MigrationsLive.pipe(
        Layer.provideMerge(
          pgClientLayer(connectTo, options.maxConnections ?? Number(process.env.DB_MAX_CONNECTIONS ?? 20), {
            search_path: schema,
            application_name: schema,
          }),
        ),
        Layer.provideMerge(withInfo("postgres", `${describeUrl(url)} schema ${schema}`)),
      )
    }),
  )

const pgliteLayer = (options: TestDatabaseOptions = {}) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const snapshot = yield* pgliteSnapshot
      const embedded = yield* Effect.acquireRelease(
        Effect.promise(() => startEmbeddedPostgres({ loadDataDir: snapshot })),
        (db) => Effect.promise(() => db.close()),
      )
      const connectTo = yield* appUrl(embedded.url, options)
      return MigrationsLive.pipe(
        Layer.provideMerge(pgClientLayer(connectTo, options.maxConnections ?? 10)),
        Layer.provideMerge(withInfo("embedded", `in-memory PGlite on ${describeUrl(embedded.url)}`)),
      )
    }),
  )

export type TestBackend = "postgres" | "embedded"

/** A fresh, migrated, private database per layer build (see above). */
export const TestDatabase = Layer.suspend(() => {
  const url = serverUrl()
  return url ? schemaLayer(url) : pgliteLayer()
})

/** As TestDatabase, with options (the code under test connecting through `via`, a pool size). */
export const testDatabaseWith = (options: TestDatabaseOptions) =>
  Layer.suspend(() => {
    const url = serverUrl()
    return url ? schemaLayer(url, options) : pgliteLayer(options)
  })

/** The same, on a chosen backend: "embedded" is always PGlite, "postgres" needs TEST_DATABASE_URL / DATABASE_URL. */
export const testDatabaseOn = (backend: TestBackend, options: TestDatabaseOptions = {}) =>
  Layer.suspend(() => {
    if (backend === "embedded") return pgliteLayer(options)
    const url = serverUrl()
    if (!url) throw new Error("the postgres test backend needs TEST_DATABASE_URL or DATABASE_URL")
    return schemaLayer(url, options)
  })

export const testDatabaseKind = (): TestBackend => (serverUrl() ? "postgres" : "embedded")

/**
 * Backends a test must pass on: PGlite and Postgres. Without a server URL the Postgres copy is skipped (see
 * needsPostgres). TEST_BACKENDS=postgres (or =embedded) keeps one copy: `npm run mutation` runs only the Postgres one
 * when it has a server (the PGlite copy proves less and takes ~15 s per run).
 */
export const testBackends = (): ReadonlyArray<TestBackend> => {
  const only = (process.env.TEST_BACKENDS ?? "")
    .split(",")
    .map((b) => b.trim())
    .filter((b) => b !== "")
  const unknown = only.filter((b) => b !== "embedded" && b !== "postgres")
  if (unknown.length > 0)
    throw new Error(
      `TEST_BACKENDS must list "embedded" and/or "postgres", got "${process.env.TEST_BACKENDS}". Unset it for both.`,
    )
  return only.length === 0
    ? ["embedded", "postgres"]
    : (["embedded", "postgres"] as const).filter((b) => only.includes(b))
}

// Tests that only prove something on a real Postgres server (row locks across connections, backends to terminate,
// sessions in other processes) must never just vanish from a run without one: they are registered always, skipped
// with the reason in their name, and carry NEEDS_POSTGRES so that .ci/run (which has Postgres) fails if any of them
// was skipped there (scripts/check-required-tests.mjs).

/** Marker in the name of every test that needs a real Postgres server. */
export const NEEDS_POSTGRES = "[needs Postgres]"

/** True when a Postgres server URL is set (TEST_DATABASE_URL or DATABASE_URL). */
export const hasPostgres = (): boolean => serverUrl() !== undefined

/** True when a test on this backend cannot run here (Postgres without a server URL). */
export const skipBackend = (backend: TestBackend): boolean => backend === "postgres" && !hasPostgres()

/** The name of a Postgres-only test: the marker, and without a server why it is skipped. */
export const needsPostgres = (name: string): string =>
  `${NEEDS_POSTGRES} ${name}${hasPostgres() ? "" : " — skipped: no Postgres server here; set TEST_DATABASE_URL or DATABASE_URL (CI does) to run it"}`
