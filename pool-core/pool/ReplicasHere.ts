import { Context, Effect, Layer, type Scope, Semaphore } from "effect"

// What this process knows about the pool replicas on ONE database, without asking it. The database layers provide it
// (db/Database.ts, db/testing.ts), so every pool built on the same database layer shares it and pools on other
// databases never see it: no process-wide globals.
//
// Why it is needed: on PGlite (one shared session) every advisory lock is re-entrant, so a replica's lock says nothing
// about whether it lives, and the tick's lock does not keep two in-process ticks apart. The embedded database only ever
// lives in the one process that serves it, so what this process knows is the whole truth there. On Postgres the locks
// decide across processes and this only adds the in-process exclusion.

export class ReplicasHere extends Context.Service<
  ReplicasHere,
  {
    /** A replica of this process started on this database (`leave` when it stops). */
    readonly enter: (replicaId: string) => Effect.Effect<void>
    readonly leave: (replicaId: string) => Effect.Effect<void>
    /** True when the replica id is one of this process's live replicas on this database. */
    readonly isLive: (replicaId: string) => Effect.Effect<boolean>
    /** Takes this process's tick slot for the database: false when another of its replicas is ticking. */
    readonly startTick: Effect.Effect<boolean>
    readonly endTick: Effect.Effect<void>
    /**
     * Runs `effect` while no other effect of this process holds the lock `name` on this database. Advisory locks keep
     * other processes out on Postgres; on PGlite they are re-entrant, so this is what keeps this process's own apart.
     */
    readonly withLock: <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
    /** Takes the lock `name` if nobody here holds it, without waiting (true), until the scope closes; false if held. */
    readonly tryHold: (name: string) => Effect.Effect<boolean, never, Scope.Scope>
  }
>()("pool-core/pool/ReplicasHere") {
  static readonly make = Effect.sync(() => {
    const live = new Set<string>()
    let ticking = false
    const held = new Set<string>()
    const locks = new Map<string, { readonly semaphore: Semaphore.Semaphore; users: number }>()
    return ReplicasHere.of({
      enter: (id) => Effect.sync(() => void live.add(id)),
      leave: (id) => Effect.sync(() => void live.delete(id)),
      isLive: (id) => Effect.sync(() => live.has(id)),
      startTick: Effect.sync(() => (ticking ? false : (ticking = true))),
      endTick: Effect.sync(() => void (ticking = false)),
      withLock: (name, effect) =>
        Effect.acquireUseRelease(
          Effect.sync(() => {
            const lock = locks.get(name) ?? { semaphore: Semaphore.makeUnsafe(1), users: 0 }
            lock.users++
            locks.set(name, lock)
            return lock
          }),
          (lock) => lock.semaphore.withPermits(1)(effect),
          // Forgotten once nobody holds or waits for it: one entry per lock in use, not per name ever used.
          (lock) => Effect.sync(() => void (--lock.users === 0 && locks.delete(name))),
        ),
      tryHold: (name) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            if (held.has(name)) return false
            held.add(name)
            return true
          }),
          (took) => Effect.sync(() => void (took && held.delete(name))),
        ),
    })
  })

  /** A fresh registry: one per database layer build. */
  static readonly layer = Layer.effect(ReplicasHere, ReplicasHere.make)
}
