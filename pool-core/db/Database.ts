import { mkdirSync } from "node:fs"
import { join, resolve } from "node:path"
import { PgClient } from "@effect/sql-pg"
import { Config, Context, Effect, Layer, Option, Redacted, String as Str } from "effect"
import { DataDir } from "@convos-agents/contract"
import type { SqlClient } from "effect/sql"
import { DatabaseError, InvalidConfig } from "../domain/errors.ts"
import { ReplicasHere } from "../pool/ReplicasHere.ts"
import { MigrationsLive } from "./migrations.ts"
import { embeddedDbPassword, secureDataDir } from "./dataDir.ts"
import { startEmbeddedPostgres } from "./pglite-server.ts"

/** Which database the process talks to, for start-up output and /info. */
export class DatabaseInfo extends Context.Service<
  DatabaseInfo,
  {
    readonly kind: "postgres" | "embedded"
    /** Where it is, without credentials. */
    readonly location: string
  }
>()("pool-core/db/DatabaseInfo") {}

/** snake_case columns in SQL, camelCase fields in TypeScript. */
export const pgClientLayer = (url: string, maxConnections: number, startupParameters?: Record<string, string>) =>
  PgClient.layer({
    url: Redacted.make(url),
    maxConnections,
    ...(startupParameters ? { startupParameters } : {}),
    transformResultNames: Str.snakeToCamel,
    transformQueryNames: Str.camelToSnake,
  })

export const describeUrl = (url: string): string => {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.hostname}:${u.port || "5432"}${u.pathname}`
  } catch {
    return "(unparseable url)"
  }
}

export const validateDatabaseUrl = (variable: string, url: string) =>
  Effect.try({
    try: () => {
      const u = new URL(url)
      if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") throw new Error(`protocol ${u.protocol}`)
      return url
    },
    catch: () =>
      new InvalidConfig({
        variable,
        message: `${variable} is not a Postgres URL (expected postgres://user@host:port/db). Fix it, or unset it to use the embedded database.`,
      }),
  })

/** Connects (and migrates) eagerly so a wrong DATABASE_URL fails at start with a clear message. */
const connectAndMigrate = (location: string, url: string, maxConnections: number, kind: "postgres" | "embedded") =>
  MigrationsLive.pipe(
    Layer.provideMerge(pgClientLayer(url, maxConnections)),
    Layer.provideMerge(Layer.succeed(DatabaseInfo, { kind, location })),
    // What this process knows about the pool replicas on this database (pool/ReplicasHere.ts).
    Layer.provideMerge(ReplicasHere.layer),
    Layer.catchCause((cause) =>
      Layer.effectDiscard(
        Effect.fail(
          new DatabaseError({
            message: `Cannot use the database at ${location}: ${String(cause).split("\n")[0]}. Check DATABASE_URL (or unset it for the embedded database) and that the server is running.`,
            cause,
          }),
        ),
      ),
    ),
    // catchCause types its result as the fallback's outputs only; on success the client layers are what it provides.
  ) as unknown as Layer.Layer<PgClient.PgClient | SqlClient.SqlClient | DatabaseInfo | ReplicasHere, DatabaseError>

/**
 * The application database: Postgres from DATABASE_URL, else embedded PGlite under DATA_DIR/pglite served on a
 * loopback port (its lifetime is the layer's) that requires the password kept in DATA_DIR/pglite-password; DATA_DIR
 * is made owner-only first (dataDir.ts). Migrations run at build.
 */
export const DatabaseLive = Layer.unwrap(
  Effect.gen(function* () {
    const url = yield* Config.option(Config.String("DATABASE_URL")).pipe(
      Effect.mapError((e) => new InvalidConfig({ variable: "DATABASE_URL", message: e.message })),
    )
    const maxConnections = yield* Config.Int("DB_MAX_CONNECTIONS").pipe(
      Config.withDefault(10),
      Effect.mapError(
        () =>
          new InvalidConfig({
            variable: "DB_MAX_CONNECTIONS",
            message: "DB_MAX_CONNECTIONS must be a whole number ≥ 1 (connections in the database pool).",
          }),
      ),
      Effect.filterOrFail(
        (n) => n >= 1,
        (n) =>
          new InvalidConfig({
            variable: "DB_MAX_CONNECTIONS",
            message: `DB_MAX_CONNECTIONS must be a whole number ≥ 1 (got ${n}); set it to 1 or more, or unset it for the default of 10.`,
          }),
      ),
    )
    if (Option.isSome(url) && url.value.trim() !== "") {
      const checked = yield* validateDatabaseUrl("DATABASE_URL", url.value.trim())
      const location = describeUrl(checked)
      return connectAndMigrate(location, checked, maxConnections, "postgres")
    }
    const dataDir = resolve(yield* DataDir.pipe(Effect.orDie))
    const dir = join(dataDir, "pglite")
    const embedded = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => {
          secureDataDir(dataDir)
          mkdirSync(dir, { recursive: true, mode: 0o700 })
          return startEmbeddedPostgres({ dataDir: dir, password: embeddedDbPassword(dataDir) })
        },
        catch: (cause) =>
          new DatabaseError({
            message: `Cannot start the embedded database in ${dir}: ${String(cause)}. Is another process using it? Stop it or set DATA_DIR elsewhere.`,
            cause,
          }),
      }),
      (db) => Effect.promise(() => db.close()),
    )
    const location = `embedded PGlite at ${dir} (served on ${describeUrl(embedded.url)})`
    return connectAndMigrate(location, embedded.url, maxConnections, "embedded")
  }),
)
