import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { ConfigProvider, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { describe, expect, it } from "vitest"
import { coreMigrationsFolder, DatabaseLive, MigrationFolders } from "@convos-agents/pool-core"
import { botMigrationsFolder } from "@convos-agents/manager-bot"
import { AppMigrations } from "../src/compose.ts"

// Each part keeps its migrations in its own folder (pool-core/db/migrations, manager-bot/migrations); one loader
// merges them. Databases migrated before the bot's files moved out of pool-core must start unchanged: the ledger
// (schema_migrations) holds ids and names, which stay the same.

/**
 * The ledger of a database migrated by the layout before the move (one folder holding every file), as recorded.
 * Migrations added later take higher ids; these rows must stay as they are.
 */
const LEDGER_BEFORE_THE_MOVE = [
  [1, "core"],
  [100, "provider_resources"],
  [200, "manager_bot"],
  [300, "claim_owner"],
  [400, "bot_answered"],
  [500, "quotas"],
  [700, "agent_services"],
  [800, "bot_dialogs"],
]

const here = dirname(fileURLToPath(import.meta.url))

/** The embedded database in `dataDir` (the same one on every build), migrated with `folders`. */
const database = (dataDir: string, folders: Layer.Layer<never>) =>
  DatabaseLive.pipe(
    Layer.provide(folders),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ DATA_DIR: dataDir }))),
  )

const ledgerAndRan = (dataDir: string, folders: Layer.Layer<never>) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const ledger = yield* sql<{
        migrationId: number
        name: string
      }>`SELECT migration_id, name FROM schema_migrations ORDER BY migration_id`
      // The bot's tables (0200, 0400) are there and usable.
      yield* sql`INSERT INTO processed_messages (message_id, handled_by) VALUES (${`m-${ledger.length}-${Math.random()}`}, 'probe')`
      return ledger.map((r) => [Number(r.migrationId), r.name]).filter(([id]) => Number(id) <= 800)
    }).pipe(Effect.provide(database(dataDir, folders)), Effect.scoped),
  )

describe("migrations: one loader over every part's folder", () => {
  it("a fresh database gets the same ledger as before the bot's migrations moved to manager-bot", {
    timeout: 120_000,
  }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "convos-migrations-"))
    try {
      expect(await ledgerAndRan(dataDir, AppMigrations)).toEqual(LEDGER_BEFORE_THE_MOVE)
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it("a database migrated by the old layout (every file in one folder) starts with the new one and runs nothing", {
    timeout: 120_000,
  }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "convos-migrations-"))
    // The old layout: one folder with all the files, inside the repo so they resolve "effect".
    const oneFolder = mkdtempSync(join(here, ".old-layout-"))
    try {
      for (const folder of [coreMigrationsFolder, botMigrationsFolder]) {
        for (const f of readdirSync(folder)) copyFileSync(join(folder, f), join(oneFolder, f))
      }
      expect(await ledgerAndRan(dataDir, Layer.succeed(MigrationFolders, [oneFolder]))).toEqual(LEDGER_BEFORE_THE_MOVE)
      // Nothing runs again (0200 would fail: its tables exist) and nothing is refused as skipped.
      expect(await ledgerAndRan(dataDir, AppMigrations)).toEqual(LEDGER_BEFORE_THE_MOVE)
    } finally {
      rmSync(oneFolder, { recursive: true, force: true })
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
