import { assert, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { testDatabaseOn } from "../../db/testing.ts"
import { Pool } from "../Pool.ts"
import { PoolTest } from "../testing.ts"

// What a process knows about its replicas (ReplicasHere) belongs to one database: pools on another database in the
// same process must not take this one's replicas for theirs. On the embedded database a replica's lock tells nothing,
// so a claim there whose owner is not a live replica OF THAT DATABASE is an orphan (here: rows copied from another
// database, as a restored backup has them) and must be resolved, not left in `claiming`.

const world = () => Layer.build(PoolTest({ database: testDatabaseOn("embedded") }))

it.live(
  "a claim on one embedded database owned by a replica that lives only on another database of this process is resolved",
  () =>
    Effect.gen(function* () {
      const a = yield* world()
      const b = yield* world()
      const poolA = Context.get(a, Pool)
      const poolB = Context.get(b, Pool)
      const sqlB = Context.get(b, SqlClient.SqlClient)
      yield* poolB.replenish(1)
      yield* poolB.tick
      const [idle] = yield* poolB.list({ status: ["idle"] })
      assert.isDefined(idle)
      yield* sqlB`UPDATE instances SET status = 'claiming', claimed_by = 'bob', claim_owner = ${poolA.replica.id}, updated_at = now() WHERE id = ${idle!.id}`
      const report = yield* poolB.tick
      assert.strictEqual(
        report.markedCrashed,
        1,
        "database B has no live replica with that id: the claim is an orphan there",
      )
      assert.strictEqual((yield* poolB.get(idle!.id)).status, "crashed")
      // Database A still knows its own replica: a claim it owns there is left alone.
      yield* poolA.replenish(1)
      yield* poolA.tick
      const [idleA] = yield* poolA.list({ status: ["idle"] })
      const sqlA = Context.get(a, SqlClient.SqlClient)
      yield* sqlA`UPDATE instances SET status = 'claiming', claimed_by = 'bob', claim_owner = ${poolA.replica.id}, updated_at = now() WHERE id = ${idleA!.id}`
      assert.strictEqual((yield* poolA.tick).markedCrashed, 0)
    }).pipe(Effect.scoped),
  { timeout: 120_000 },
)
