import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Effect, Layer, Schedule } from "effect"
import { Migrator, SqlClient } from "effect/sql"
import { DatabaseError } from "../domain/errors.ts"

const migrationsDir = join(dirname(fileURLToPath(import.meta.url)), "migrations")
/** The Migrator's table; its first row's created_at is when this database was made (the key sweep reads it). */
export const MIGRATIONS_TABLE = "schema_migrations"

/**
 * Every `NNNN_name.ts` in pool-core/db/migrations, in id order. Ranges used so far: 0001–0099 core, 0100–0199
 * providers, 0200–0299 manager bot, 0300 core again. The Migrator only runs ids ABOVE the latest one a database
 * has applied, so a new migration must take an id above every existing file, whatever part it belongs to (a lower
 * id would be skipped on existing databases; `MigrationsLive` refuses to start if that happened).
 */
export const migrationLoader = Migrator.fromGlob(
  Object.fromEntries(
    readdirSync(migrationsDir)
      .filter((f) => /^\d+_.+\.(ts|js|mts|mjs)$/.test(f) && !f.endsWith(".d.ts") && !f.includes(".test."))
      .map((f) => [f, () => import(pathToFileURL(join(migrationsDir, f)).href)])
  )
)

const runMigrations = Migrator.make({})

/** A migration file the database never ran (an id below the latest applied one): fail loudly instead of drifting. */
const checkNoneSkipped = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const files = yield* migrationLoader
  const applied = yield* sql<{ migrationId: number }>`SELECT migration_id FROM ${sql(MIGRATIONS_TABLE)}`
  const ids = new Set(applied.map((r) => Number(r.migrationId)))
  const skipped = files.filter(([id]) => !ids.has(id))
  if (skipped.length === 0) return
  const latest = Math.max(...ids)
  return yield* new DatabaseError({
    message: `Migration(s) ${skipped.map(([id, name]) => `${id}_${name}`).join(", ")} never ran: this database already applied migration ${latest}, and migrations only run in increasing id order. Give the file(s) an id above ${latest} (pool-core/db/migrations).`,
    cause: null,
  })
})

/** Runs pending migrations when built (concurrent runners: one migrates, the others see "Locked" and wait it out). */
export const MigrationsLive = Layer.effectDiscard(
  runMigrations({ loader: migrationLoader, table: MIGRATIONS_TABLE }).pipe(
    Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 50, while: (e) => e._tag === "MigrationError" && e.kind === "Locked" }),
    Effect.tap((ran) => (ran.length > 0 ? Effect.logInfo(`database: ran ${ran.length} migration(s)`) : Effect.void)),
    Effect.andThen(checkNoneSkipped)
  )
)
