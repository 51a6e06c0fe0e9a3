import { PgClient, PgConnection } from "@effect/sql-pg"
import { Duration, Effect, Option, type Scope } from "effect"
import type { DatabaseError } from "../domain/errors.ts"
import { ReplicasHere } from "./ReplicasHere.ts"
import { toDatabaseError } from "./repo.ts"

// One rolling upgrade at a time on a database, across every replica: two at once would each take a claimed agent down
// (the "one person's agent away at a time" promise) and restart agents the other is waiting for.
//
// A session advisory lock, tried without waiting, on a connection of its own held for the whole upgrade (outside the
// connection pool, so DB_MAX_CONNECTIONS=1 cannot deadlock). Postgres frees it the moment that session ends: at the end
// of the upgrade, or when the replica dies (kill -9, host gone), so a dead replica's upgrade never blocks the next one
// and no lease has to be waited out. Key (73043, hashtext(current_schema())): per schema like the tick's (73041), apart
// from the quota's (73042, …) and the replicas' one-bigint keys.
//
// If that session ends while the upgrade runs (the database restarted, the network cut it), the lock is gone and another
// replica may start one: the upgrade asks `stillHeld` before each claimed agent and restarts no more when it is lost.
//
// PGlite is one shared session where advisory locks are re-entrant, so this process's own slot (ReplicasHere) is what
// keeps two upgrades apart there (and between pools of one process on Postgres too).

export const upgradeLockSql = "SELECT pg_try_advisory_lock(73043, hashtext(current_schema()))"
const upgradeUnlockSql = "SELECT pg_advisory_unlock(73043, hashtext(current_schema()))"
const HERE = "convos-pool-upgrade"
/** A live session answers at once; longer means it is gone or hung, and either way the lock cannot be counted on. */
const ANSWERS_WITHIN = Duration.seconds(5)

/** The upgrade lock while held: whether this replica still holds it (its session still answers). */
export interface UpgradeLockHeld {
  readonly stillHeld: Effect.Effect<boolean>
}

export const makeUpgradeLock = Effect.gen(function* () {
  const here = yield* ReplicasHere
  const pg = yield* Effect.serviceOption(PgClient.PgClient)

  /** The upgrade lock, held until the scope closes; none when an upgrade runs anywhere. */
  const tryHold: Effect.Effect<Option.Option<UpgradeLockHeld>, DatabaseError, Scope.Scope> = Effect.gen(function* () {
    if (!(yield* here.tryHold(HERE))) return Option.none()
    if (Option.isNone(pg)) return Option.some({ stillHeld: Effect.succeed(true) })
    const conn = yield* PgConnection.make(pg.value.config).pipe(Effect.mapError(toDatabaseError))
    const [[locked]] = (yield* conn
      .queryValues(upgradeLockSql, [], false)
      .pipe(Effect.mapError(toDatabaseError))) as ReadonlyArray<ReadonlyArray<unknown>> as [[boolean]]
    if (locked !== true) return Option.none()
    // Closing the connection frees it on Postgres; the explicit unlock keeps PGlite's shared session from piling up holds.
    yield* Effect.addFinalizer(() => conn.queryValues(upgradeUnlockSql, [], false).pipe(Effect.ignore))
    const stillHeld = conn.queryValues("SELECT 1", [], false).pipe(
      Effect.timeout(ANSWERS_WITHIN),
      Effect.as(true),
      Effect.orElseSucceed(() => false),
    )
    return Option.some<UpgradeLockHeld>({ stillHeld })
  })

  return { tryHold } as const
})
