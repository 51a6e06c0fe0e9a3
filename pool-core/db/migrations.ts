import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Effect, Layer, Schedule } from "effect"
import { Migrator } from "effect/sql"

const migrationsDir = join(dirname(fileURLToPath(import.meta.url)), "migrations")

/**
 * Every `NNNN_name.ts` in pool-core/db/migrations, in id order. Ranges: 0001–0099 core, 0100–0199 providers,
 * 0200–0299 manager bot.
 */
export const migrationLoader = Migrator.fromGlob(
  Object.fromEntries(
    readdirSync(migrationsDir)
      .filter((f) => /^\d+_.+\.(ts|js|mts|mjs)$/.test(f) && !f.endsWith(".d.ts") && !f.includes(".test."))
      .map((f) => [f, () => import(pathToFileURL(join(migrationsDir, f)).href)])
  )
)

const runMigrations = Migrator.make({})

/** Runs pending migrations when built (concurrent runners: one migrates, the others see "Locked" and wait it out). */
export const MigrationsLive = Layer.effectDiscard(
  runMigrations({ loader: migrationLoader, table: "schema_migrations" }).pipe(
    Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 50, while: (e) => e._tag === "MigrationError" && e.kind === "Locked" }),
    Effect.tap((ran) => (ran.length > 0 ? Effect.logInfo(`database: ran ${ran.length} migration(s)`) : Effect.void))
  )
)
