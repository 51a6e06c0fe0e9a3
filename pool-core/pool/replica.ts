import { randomUUID } from "node:crypto"
import { PgClient, PgConnection } from "@effect/sql-pg"
import { Clock, Context, Deferred, Duration, Effect, Layer, Option, Ref, Schedule, Semaphore } from "effect"
import { SqlClient } from "effect/sql"
import { DatabaseError } from "../domain/errors.ts"
import { ReplicasHere } from "./ReplicasHere.ts"
import { toDatabaseError } from "./repo.ts"

// One pool process (a replica) and how the others know it is alive.
//
// Every replica has a random id, recorded on each claim it makes (instances.claim_owner), and holds a session advisory
// lock keyed by that id on its own dedicated database session for as long as it lives. Postgres releases the lock the
// moment the session ends (process killed, host gone), so "owner dead ⇔ its lock can be taken" — no heartbeat to wait
// out, which keeps restart recovery immediate. If the session drops while the process lives, the keeper reconnects and
// takes the lock again. Another replica counts this one gone only after seeing its lock free for
// POOL_REPLICA_GONE_AFTER (default 15 s, longer than PING + a statement timeout + a reconnect), so such a gap is not
// taken for death; the manager bot's ledger asks without that wait (see ManagerBot.ts).
//
// PGlite is one shared session: every advisory lock is re-entrant there, so the lock tells nothing. Replicas alive in
// this process are known from ReplicasHere (per database) instead, and any other id counts as dead — right for the
// embedded database, which only ever lives in the one process that serves it.
//
// The same session carries the tick's advisory lock, so neither takes a connection from the pool.

const PING = Duration.seconds(1)
const RECONNECT = Schedule.spaced(Duration.millis(250))
const START_TIMEOUT = Duration.seconds(15)
/** No statement on the session takes longer (none of them waits on a lock): a hung session is dropped and reopened. */
const STATEMENT_TIMEOUT = Duration.seconds(5)

interface Session {
  readonly values: (
    query: string,
    params?: ReadonlyArray<unknown>,
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, DatabaseError>
}

const lockKey = (replicaId: string) => `convos-pool-replica:${replicaId}`

/**
 * Takes the lock a live replica holds, from any session (tests use it to stand in for another process).
 * Session-level: it is held until that session ends.
 */
export const replicaLockSql = "SELECT pg_try_advisory_lock(hashtextextended($1, 0))"
export const replicaLockParams = (replicaId: string) => [lockKey(replicaId)]

/** The tick's lock: one per schema, so pools in separate schemas of one server do not block each other. */
export const tickLockSql = "SELECT pg_try_advisory_lock(73041, hashtext(current_schema()))"
const tickUnlockSql = "SELECT pg_advisory_unlock(73041, hashtext(current_schema()))"

export const makeReplica = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const here = yield* ReplicasHere
  const pg = yield* Effect.serviceOption(PgClient.PgClient)
  const id = randomUUID()
  const current = yield* Ref.make(Option.none<Session>())
  const ready = yield* Deferred.make<void, DatabaseError>()
  const serial = yield* Semaphore.make(1)

  const bounded = <A>(statement: Effect.Effect<A, DatabaseError>) =>
    statement.pipe(
      Effect.timeoutOrElse({
        duration: STATEMENT_TIMEOUT,
        orElse: () =>
          Effect.fail(
            new DatabaseError({
              message: `The pool's own database session did not answer within ${Duration.format(STATEMENT_TIMEOUT)}; it reconnects.`,
              cause: null,
            }),
          ),
      }),
    )

  /** A dedicated session outside the connection pool (or, without a PgClient, a reserved pool connection). */
  const open = Option.match(pg, {
    onSome: (client) =>
      PgConnection.make(client.config).pipe(
        Effect.map(
          (conn): Session => ({
            values: (q, p) => bounded(conn.queryValues(q, p ?? [], false).pipe(Effect.mapError(toDatabaseError))),
          }),
        ),
        Effect.mapError(toDatabaseError),
      ),
    onNone: () =>
      sql.reserve.pipe(
        Effect.map(
          (conn): Session => ({
            values: (q, p) => bounded(conn.executeValues(q, p ?? []).pipe(Effect.mapError(toDatabaseError))),
          }),
        ),
        Effect.mapError(toDatabaseError),
      ),
  })

  const holdOnce = Effect.scoped(
    Effect.gen(function* () {
      const session = yield* open
      const [[locked]] = (yield* session.values(replicaLockSql, replicaLockParams(id))) as [[boolean]]
      if (locked !== true)
        return yield* new DatabaseError({ message: `Replica lock ${id} is held by another session.`, cause: null })
      yield* Ref.set(current, Option.some(session))
      yield* Deferred.succeed(ready, undefined)
      // Runs until the session fails; then the keeper opens a new one.
      return yield* serial.withPermit(session.values("SELECT 1")).pipe(Effect.repeat(Schedule.spaced(PING)))
    }),
  ).pipe(Effect.ensuring(Ref.set(current, Option.none())))

  // During an outage the keeper retries every 250 ms: say so once, then at most once a minute.
  let warnedAt = 0
  yield* holdOnce.pipe(
    Effect.catchCause((cause) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        if (now - warnedAt < 60_000) return Effect.void
        warnedAt = now
        return Effect.logWarning(
          `pool replica ${id.slice(0, 8)}: database session lost, reconnecting (every 250 ms; repeated at most once a minute)`,
          cause,
        )
      }),
    ),
    Effect.repeat(RECONNECT),
    Effect.forkScoped,
  )
  yield* Deferred.await(ready).pipe(
    Effect.timeoutOrElse({
      duration: START_TIMEOUT,
      orElse: () =>
        Effect.fail(
          new DatabaseError({
            message: `The pool could not open its own database session within ${Duration.format(START_TIMEOUT)}. Check that the database accepts one more connection than DB_MAX_CONNECTIONS.`,
            cause: null,
          }),
        ),
    }),
  )
  yield* here.enter(id)
  yield* Effect.addFinalizer(() => here.leave(id))

  const withSession = <A>(use: (s: Session) => Effect.Effect<A, DatabaseError>) =>
    Ref.get(current).pipe(
      Effect.flatMap(
        Option.match({
          onNone: () =>
            Effect.fail(
              new DatabaseError({
                message: "The pool's database session is reconnecting; the tick runs again on the next interval.",
                cause: null,
              }),
            ),
          onSome: (s) => serial.withPermit(use(s)),
        }),
      ),
    )

  /** When each other replica's lock was first seen free (forgotten when seen held again). */
  const firstSeenFree = new Map<string, number>()

  /**
   * Replica ids among `owners` that are gone: their lock is free now and has been for `confirmAfter` (default: at
   * once). An owner whose liveness cannot be checked right now counts as alive.
   */
  const gone = (owners: ReadonlyArray<string>, confirmAfter: Duration.Duration = Duration.zero) =>
    Effect.filter(owners, (o) => (o === id ? Effect.succeed(false) : Effect.map(here.isLive(o), (live) => !live))).pipe(
      Effect.flatMap((others) => Effect.forEach(others, (owner) => lockFreeFor(owner, confirmAfter))),
      Effect.flatMap((found) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          // Owners of long-resolved claims are never asked again: keep the map small.
          for (const [owner, at] of firstSeenFree) if (now - at > 86_400_000) firstSeenFree.delete(owner)
          return new Set(found.flat())
        }),
      ),
    )

  /** [owner] when its lock is free and has been for `confirmAfter`; [] otherwise (or when it cannot be asked). */
  const lockFreeFor = (owner: string, confirmAfter: Duration.Duration) =>
    withSession((s) =>
      s.values(
        "SELECT CASE WHEN pg_try_advisory_lock(k) THEN pg_advisory_unlock(k) ELSE false END FROM (SELECT hashtextextended($1, 0) AS k) AS t",
        [lockKey(owner)],
      ),
    ).pipe(
      Effect.flatMap((rows) => Effect.map(Clock.currentTimeMillis, (now) => ({ rows, now }))),
      Effect.map(({ rows, now }) => {
        if (rows[0]?.[0] !== true) {
          firstSeenFree.delete(owner)
          return []
        }
        const first = firstSeenFree.get(owner) ?? now
        firstSeenFree.set(owner, first)
        return now - first >= Duration.toMillis(confirmAfter) ? [owner] : []
      }),
      Effect.orElseSucceed(() => [] as Array<string>),
    )

  /**
   * Runs `body` only if no other tick on this database runs (this process: ReplicasHere; other processes: an advisory
   * lock keyed by the schema, on this replica's session). None when another tick holds it.
   */
  const exclusiveTick = <A, E>(body: Effect.Effect<A, E>): Effect.Effect<Option.Option<A>, E | DatabaseError> =>
    Effect.uninterruptibleMask((restore) =>
      here.startTick.pipe(
        Effect.flatMap((mine) =>
          !mine
            ? Effect.succeedNone
            : restore(
                withSession((s) => s.values(tickLockSql)).pipe(
                  Effect.flatMap((rows) =>
                    rows[0]?.[0] !== true
                      ? Effect.succeedNone
                      : body.pipe(
                          Effect.map(Option.some),
                          Effect.ensuring(withSession((s) => s.values(tickUnlockSql)).pipe(Effect.ignore)),
                        ),
                  ),
                ),
              ).pipe(Effect.ensuring(here.endTick)),
        ),
      ),
    )

  return { id, gone, exclusiveTick } as const
})

/** This process as one pool replica on its database (see above); each pool has its own. */
export class Replica extends Context.Service<Replica, Effect.Success<typeof makeReplica>>()("pool-core/pool/Replica") {
  /** A new replica for the pool built with it; needs SqlClient and ReplicasHere (from the database layer). */
  static readonly layer = Layer.effect(Replica, makeReplica)
}
