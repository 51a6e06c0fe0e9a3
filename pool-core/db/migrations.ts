import { readdirSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Context, Effect, Layer, Schedule } from "effect"
import { Migrator, SqlClient } from "effect/sql"
import { DatabaseError } from "../domain/errors.ts"

/** The Migrator's table; its first row's created_at is when this database was made (the key sweep reads it). */
export const MIGRATIONS_TABLE = "schema_migrations"

/** pool-core's own migrations (core tables and provider resources). */
export const coreMigrationsFolder = join(dirname(fileURLToPath(import.meta.url)), "migrations")

/**
 * The folders whose `NNNN_name.ts` files make up the schema: each part owns its tables and keeps their migrations in
 * its own folder (pool-core/db/migrations, manager-bot/migrations), and one loader merges them in id order. Default:
 * pool-core's alone; the composition root (server/src/compose.ts) and a part's tests add theirs (`migrationsWith`).
 */
export const MigrationFolders = Context.Reference<ReadonlyArray<string>>("pool-core/db/MigrationFolders", {
  defaultValue: () => [coreMigrationsFolder],
})

/** pool-core's migrations plus the given parts' folders. */
export const migrationsWith = (...folders: ReadonlyArray<string>) =>
  Layer.succeed(MigrationFolders, [coreMigrationsFolder, ...folders])

/**
 * Every migration file of the folders, keyed by file name (the ledger records the id and the name after it, not the
 * folder, so a file can move between parts). Ranges used so far: 0001–0099 core, 0100–0199 providers, 0200–0299
 * manager bot, 0300 on any part. Ids are shared by all parts: the Migrator only runs ids ABOVE the latest one a
 * database has applied, so a new migration must take an id above every existing file, whatever part it belongs to
 * (a lower id would be skipped on existing databases; `MigrationsLive` refuses to start if that happened).
 */
export const migrationFiles = (folders: ReadonlyArray<string>) => {
  const files = new Map<string, string>()
  for (const folder of folders) {
    for (const f of readdirSync(folder)) {
      if (!/^\d+_.+\.(ts|js|mts|mjs)$/.test(f) || f.endsWith(".d.ts") || f.includes(".test.")) continue
      const id = Number(f.split("_")[0])
      const clash = [...files.keys()].find((other) => Number(other.split("_")[0]) === id)
      if (clash)
        throw new DatabaseError({
          message: `Two migrations have the id ${id}: ${join(folder, f)} and ${files.get(clash)}. Give one an id above every existing migration.`,
          cause: null,
        })
      files.set(f, join(folder, f))
    }
  }
  return files
}

const loaderOf = (folders: ReadonlyArray<string>) =>
  Migrator.fromGlob(
    Object.fromEntries(
      [...migrationFiles(folders)].map(([f, path]) => [basename(f), () => import(pathToFileURL(path).href)]),
    ),
  )

const runMigrations = Migrator.make({})

/** A migration file the database never ran (an id below the latest applied one): fail loudly instead of drifting. */
const checkNoneSkipped = (loader: Migrator.Loader) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const files = yield* loader
    const applied = yield* sql<{ migrationId: number }>`SELECT migration_id FROM ${sql(MIGRATIONS_TABLE)}`
    const ids = new Set(applied.map((r) => Number(r.migrationId)))
    const skipped = files.filter(([id]) => !ids.has(id))
    if (skipped.length === 0) return
    const latest = Math.max(...ids)
    return yield* new DatabaseError({
      message: `Migration(s) ${skipped.map(([id, name]) => `${id}_${name}`).join(", ")} never ran: this database already applied migration ${latest}, and migrations only run in increasing id order. Give the file(s) an id above ${latest} (in the part's migrations folder).`,
      cause: null,
    })
  })

/**
 * Runs pending migrations of every folder in `MigrationFolders` when built (concurrent runners: one migrates, the
 * others see "Locked" and wait it out).
 */
export const MigrationsLive = Layer.effectDiscard(
  Effect.gen(function* () {
    const loader = loaderOf(yield* MigrationFolders)
    const ran = yield* runMigrations({ loader, table: MIGRATIONS_TABLE }).pipe(
      Effect.retry({
        schedule: Schedule.spaced("100 millis"),
        times: 50,
        while: (e) => e._tag === "MigrationError" && e.kind === "Locked",
      }),
    )
    if (ran.length > 0) yield* Effect.logInfo(`database: ran ${ran.length} migration(s)`)
    yield* checkNoneSkipped(loader)
  }),
)
