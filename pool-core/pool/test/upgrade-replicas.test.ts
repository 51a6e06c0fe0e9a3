import { spawn } from "node:child_process"
import { assert, layer } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { PoolConfig } from "../../config.ts"
import { hasPostgres, needsPostgres } from "../../db/testing.ts"
import { UpgradeRefused } from "../../domain/errors.ts"
import { Pool } from "../Pool.ts"
import { makePool } from "../PoolLive.ts"
import { ReplicasHere } from "../ReplicasHere.ts"
import { makeReplica, Replica } from "../replica.ts"
import { MemoryCloud, PoolTest, startPool } from "../testing.ts"
import { upgradeLockSql } from "../upgradeLock.ts"

// One rolling upgrade at a time across every replica of a database, not just within one pool object: an upgrade
// running on one pool makes any other pool's upgrade refused (nothing restarted), and once it ends another may run.
// The lock is a session advisory lock, so a replica killed mid-upgrade (kill -9) leaves nothing behind.

type PoolService = Pool["Service"]

const warm = (idle: number, owners: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const pool = yield* Pool
    for (const i of yield* pool.list()) yield* pool.kill(i.id)
    yield* pool.replenish(idle + owners.length)
    yield* pool.tick
    for (const owner of owners)
      yield* pool.claim({ key: `k-${owner}-${Math.random()}`, claimedBy: owner, agentName: owner })
  })

/** A pool in what is, to this process, another process: its own ReplicasHere, so only the database keeps it apart. */
const poolOfAnotherProcess = Effect.gen(function* () {
  const scope = yield* Scope.make()
  const pool = yield* makePool.pipe(
    Effect.provideServiceEffect(Replica, makeReplica),
    Effect.provideServiceEffect(ReplicasHere, ReplicasHere.make),
    Effect.provideService(PoolConfig, yield* PoolConfig),
    Scope.provide(scope),
  )
  return { pool, close: Scope.close(scope, Exit.void) }
})

const refusedAsRunning = (pool: PoolService) =>
  Effect.gen(function* () {
    const cloud = yield* MemoryCloud
    const before = cloud.stats.restarts
    const refused = yield* Effect.flip(pool.upgrade())
    assert.instanceOf(refused, UpgradeRefused)
    assert.strictEqual((refused as UpgradeRefused).reason, "running")
    assert.strictEqual(refused.message, "An upgrade is already running; wait for its report (nothing new was started).")
    assert.strictEqual(cloud.stats.restarts, before, "the refused upgrade restarted nothing")
  })

/** A upgrades, held after its first progress line (it holds the lock then) until `go`; B is refused meanwhile, then runs. */
const oneAtATime = (a: PoolService, b: PoolService) =>
  Effect.gen(function* () {
    yield* warm(1, ["ann", "ben"])
    const started = yield* Deferred.make<void>()
    const go = yield* Deferred.make<void>()
    const first = yield* Effect.forkChild(
      a.upgrade((p) =>
        p.step === "upgrade" && p.status === "active"
          ? Deferred.succeed(started, undefined).pipe(Effect.andThen(Deferred.await(go)))
          : Effect.void,
      ),
    )
    yield* Deferred.await(started)
    yield* refusedAsRunning(b)
    yield* Deferred.succeed(go, undefined)
    const report = yield* Fiber.join(first)
    assert.deepStrictEqual([report.idle.restarted, report.claimed.restarted], [1, 2])
    const again = yield* b.upgrade()
    assert.deepStrictEqual([again.idle.restarted, again.claimed.restarted], [1, 2])
  })

/** A psql process holding the upgrade lock on this test's schema, idle, as a manager process mid-upgrade would be. */
const psqlHoldingTheLock = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const [{ schema }] = yield* sql<{ schema: string }>`SELECT current_schema() AS schema`
  const url = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL!
  const child = spawn("psql", ["-At", url], {
    env: { ...process.env, PGOPTIONS: `-c search_path=${schema}` },
    stdio: ["pipe", "pipe", "inherit"],
  })
  const answer = yield* Effect.callback<string>((resume) => {
    child.stdout.once("data", (d: Buffer) => resume(Effect.succeed(d.toString().trim())))
    child.stdin.write(`${upgradeLockSql};\n`) // stdin stays open: psql waits, its session idle and holding the lock
  })
  assert.strictEqual(answer, "t")
  return child
})

layer(PoolTest({ cloud: { restartTakes: Duration.millis(100) } }), {
  timeout: "120 seconds",
  excludeTestServices: true,
})("rolling upgrade across replicas", (it) => {
  it.effect("two pools on one database: an upgrade on one refuses the other's until it ends", () =>
    Effect.gen(function* () {
      const b = yield* startPool()
      yield* oneAtATime(yield* Pool, b.pool)
      yield* b.close
    }),
  )

  it.effect.skipIf(!hasPostgres())(
    needsPostgres("a replica in another process upgrading refuses this one's upgrade; after it ends this one runs"),
    () =>
      Effect.gen(function* () {
        const b = yield* poolOfAnotherProcess
        yield* oneAtATime(yield* Pool, b.pool)
        yield* b.close
      }),
  )

  it.effect.skipIf(!hasPostgres())(
    needsPostgres("a manager process killed (kill -9) mid-upgrade leaves no lock: the next upgrade runs"),
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        yield* warm(1, ["cid"])
        const child = yield* psqlHoldingTheLock
        yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL"))) // if an assertion fails first
        yield* refusedAsRunning(pool)
        const killedAt = Date.now()
        child.kill("SIGKILL")
        // Postgres ends the session when it reads the closed socket: at once, no lease to wait out. A refusal means
        // the session has not ended yet: try again shortly.
        for (let i = 0; ; i++) {
          const exit = yield* Effect.exit(pool.upgrade())
          if (Exit.isSuccess(exit)) {
            assert.strictEqual(exit.value.claimed.restarted, 1)
            console.log(`after the kill: upgrade ran on try ${i + 1}, its report ${Date.now() - killedAt} ms after`)
            return
          }
          assert.isBelow(i, 100, "the killed process's lock was never freed")
          yield* Effect.sleep(Duration.millis(20))
        }
      }),
  )

  it.effect.skipIf(!hasPostgres())(
    needsPostgres("an upgrade whose lock session ends midway restarts no more claimed agents, and says why"),
    () =>
      Effect.gen(function* () {
        const pool = yield* Pool
        const sql = yield* SqlClient.SqlClient
        const cloud = yield* MemoryCloud
        yield* warm(0, ["dee", "eve", "fay"])
        const before = cloud.stats.restarts
        const lockRows = "FROM pg_locks WHERE locktype = 'advisory' AND classid = 73043"
        const ofThisSchema = "objid = hashtext(current_schema())::oid"
        // After the first claimed agent is back, the database ends the lock's session (a restart, a cut network).
        const cut = Effect.gen(function* () {
          yield* sql.unsafe(`SELECT pg_terminate_backend(pid) ${lockRows} AND ${ofThisSchema}`)
          while (
            ((yield* sql.unsafe(`SELECT count(*)::int AS n ${lockRows} AND ${ofThisSchema}`))[0] as { n: number }).n > 0
          )
            yield* Effect.sleep(Duration.millis(10))
        }).pipe(Effect.orDie)
        let cuts = 0
        const report = yield* pool.upgrade((p) =>
          p.step === "upgrade-claimed" && p.status === "ok" && cuts++ === 0 ? cut : Effect.void,
        )
        assert.deepStrictEqual(report.claimed, { restarted: 1, failed: 2 })
        assert.strictEqual(cloud.stats.restarts - before, 1, "no claimed agent restarted after the lock was lost")
        for (const f of report.failures) assert.match(f.reason, /lost the upgrade lock/)
        const again = yield* pool.upgrade()
        assert.deepStrictEqual(again.claimed, { restarted: 3, failed: 0 })
      }),
  )
})
