import { Duration, Effect, Option, Ref, Semaphore } from "effect"
import { SqlClient } from "effect/sql"
import { instanceToken, type PoolSettings } from "../config.ts"
import type { DatabaseError, ProviderError } from "../domain/errors.ts"
import type { Instance } from "../domain/instance.ts"
import type { ComputeStatus } from "../providers/compute/Compute.ts"
import { Compute } from "../providers/compute/Compute.ts"
import type { OnProgress, PoolEvent, TickReport } from "./Pool.ts"
import { type InstanceRepo, type TickRow, toDatabaseError } from "./repo.ts"
import type { RuntimeClient } from "./RuntimeClient.ts"

/**
 * The advisory lock that lets one replica at a time run the tick. Keyed by the current schema too, so pools in
 * separate schemas of one server (tests run in parallel that way) do not block each other.
 */
const TICK_LOCK_CLASS = 73_041
const HEALTH_CONCURRENCY = 16

interface TickDeps {
  readonly repo: InstanceRepo
  readonly compute: Compute["Service"]
  readonly runtime: RuntimeClient["Service"]
  readonly settings: PoolSettings
  readonly publish: (e: PoolEvent) => Effect.Effect<void>
  readonly createOne: (onProgress: OnProgress) => Effect.Effect<Instance, ProviderError | DatabaseError>
  readonly destroy: (instance: Instance, kind: string) => Effect.Effect<void, DatabaseError>
}

const notRan: TickReport = { ran: false, promoted: 0, markedDead: 0, markedCrashed: 0, created: 0, providerCalls: 0, durationMs: 0 }
const noProgress: OnProgress = () => Effect.void

/**
 * The reconcile tick. Never overlaps itself (in-process semaphore + Postgres advisory lock across replicas), asks the
 * provider for all instances in one batched call, promotes starting → idle on /pool/health, declares dead/crashed only
 * after POOL_DEATH_GRACE of continuous failure, retries stuck destroys, resolves interrupted claims, tops idle up.
 * When the provider cannot be asked, nothing is declared dead: the last known state stands.
 */
export const makeTick = (deps: TickDeps) =>
  Effect.gen(function* () {
    const { repo, compute, runtime, settings, publish } = deps
    const sql = yield* SqlClient.SqlClient
    const semaphore = yield* Semaphore.make(1)
    const processStartedAt = new Date()
    const firstRun = yield* Ref.make(true)
    const graceMs = Duration.toMillis(settings.deathGrace)

    const withAdvisoryLock = <A, E>(body: Effect.Effect<A, E>) =>
      Effect.scoped(
        Effect.gen(function* () {
          const conn = yield* sql.reserve
          const rows = yield* conn.executeValues("SELECT pg_try_advisory_lock($1::int, hashtext(current_schema()))", [TICK_LOCK_CLASS])
          if (rows[0]?.[0] !== true) return Option.none<A>()
          return Option.some(yield* body.pipe(Effect.ensuring(conn.executeRaw("SELECT pg_advisory_unlock($1::int, hashtext(current_schema()))", [TICK_LOCK_CLASS]).pipe(Effect.ignore))))
        })
      ).pipe(Effect.mapError((e) => (e && typeof e === "object" && "_tag" in e && e._tag === "SqlError" ? toDatabaseError(e as never) : e) as E | DatabaseError))

    /** Marks unhealthy (first sighting) or returns how long it has been unhealthy. */
    const unhealthyFor = (row: TickRow, now: Date) =>
      row.unhealthySince === null
        ? repo.update(row.id, { unhealthySince: now }).pipe(Effect.as(0))
        : Effect.succeed(now.getTime() - row.unhealthySince.getTime())

    /** An instance that was left `claiming` (manager restarted mid-provision): keep it if the runtime finished, else crashed. */
    const resolveClaiming = (row: TickRow) =>
      Effect.gen(function* () {
        const health = row.url ? yield* runtime.health(row.url).pipe(Effect.option) : Option.none()
        if (Option.isSome(health) && health.value.conversationId) {
          yield* repo.transition(row.id, ["claiming"], "claimed", "recovered", {
            conversationId: health.value.conversationId,
            inviteUrl: health.value.inviteUrl ?? null,
            claimedAt: new Date(),
          })
          return 0
        }
        const reason = "setting up was interrupted (the manager restarted) before the agent was ready"
        const moved = yield* repo.transition(row.id, ["claiming"], "crashed", "recovered", { lastError: reason }, reason)
        if (Option.isSome(moved)) yield* publish({ _tag: "InstanceCrashed", instanceId: row.id, agentName: row.agentName, reason })
        return Option.isSome(moved) ? 1 : 0
      })

    const body = Effect.gen(function* () {
      const started = Date.now()
      const now = new Date()
      const isFirst = yield* Ref.getAndSet(firstRun, false)
      const rows = yield* repo.tickRows
      let promoted = 0
      let markedDead = 0
      let markedCrashed = 0
      let providerCalls = 0

      // 1. Claims interrupted by a restart (or stuck far beyond the provision timeout).
      const stuckBefore = now.getTime() - Duration.toMillis(settings.provisionTimeout) - 10_000
      const claiming = rows.filter(
        (r) => r.status === "claiming" && ((isFirst && r.updatedAt < processStartedAt) || r.updatedAt.getTime() < stuckBefore)
      )
      const resolved: ReadonlyArray<number> = yield* Effect.forEach(claiming, resolveClaiming, { concurrency: HEALTH_CONCURRENCY })
      markedCrashed += resolved.reduce((a, b) => a + b, 0)

      // 2. One batched provider call for every instance it knows.
      const known = rows.filter((r) => r.providerRef !== null && r.status !== "claiming")
      const statuses: Option.Option<ReadonlyMap<string, ComputeStatus>> =
        known.length === 0
          ? Option.some(new Map())
          : yield* compute.statusBatch(known.map((r) => ({ providerRef: r.providerRef!, providerProjectRef: r.providerProjectRef }))).pipe(
              Effect.tap(() => Effect.sync(() => providerCalls++)),
              Effect.map(Option.some),
              Effect.catch((e) =>
                Effect.sync(() => providerCalls++).pipe(
                  Effect.andThen(publish({ _tag: "ProviderFailing", provider: e.provider, message: e.message })),
                  Effect.andThen(Effect.logWarning(`tick: ${compute.name} status failed, keeping last known states: ${e.message}`)),
                  Effect.as(Option.none())
                )
              )
            )

      if (Option.isSome(statuses)) {
        const byRef = statuses.value
        const starting = rows.filter((r) => r.status === "starting")
        // 3. starting → idle when the runtime says ready; dead when it never gets there.
        const results = yield* Effect.forEach(
          starting,
          (row) =>
            Effect.gen(function* () {
              const s = row.providerRef ? byRef.get(row.providerRef) : undefined
              const url = s?.url ?? row.url
              const age = now.getTime() - row.createdAt.getTime()
              if (s && (s.state === "failed" || s.state === "gone")) {
                if ((yield* unhealthyFor(row, now)) < graceMs) return "wait"
                const reason = `never became ready: ${compute.name} reports it ${s.state}${s.detail ? ` (${s.detail})` : ""}`
                yield* repo.transition(row.id, ["starting"], "dead", "tick", { lastError: reason }, reason)
                yield* publish({ _tag: "InstanceDead", instanceId: row.id, reason })
                return "dead"
              }
              if (url && (!s || s.state === "running")) {
                const health = yield* runtime.health(url).pipe(Effect.option)
                if (Option.isSome(health) && health.value.ready) {
                  const moved = yield* repo.transition(row.id, ["starting"], "idle", "ready", { url, lastHealthyAt: now, unhealthySince: null })
                  return Option.isSome(moved) ? "promoted" : "wait"
                }
              }
              if (age > Duration.toMillis(settings.startTimeout) || (row.providerRef === null && age > graceMs)) {
                const reason = `not ready after ${Duration.format(Duration.millis(age))}`
                yield* repo.transition(row.id, ["starting"], "dead", "tick", { lastError: reason }, reason)
                yield* publish({ _tag: "InstanceDead", instanceId: row.id, reason })
                return "dead"
              }
              return "wait"
            }),
          { concurrency: HEALTH_CONCURRENCY }
        )
        promoted += results.filter((r) => r === "promoted").length
        markedDead += results.filter((r) => r === "dead").length

        // 4. idle / claimed instances the provider lost: dead / crashed after the grace period; recovered ones reset.
        for (const row of rows.filter((r) => (r.status === "idle" || r.status === "claimed") && r.providerRef !== null)) {
          const s = byRef.get(row.providerRef!)
          const failing = !s || s.state === "failed" || s.state === "gone"
          if (!failing) {
            if (row.unhealthySince !== null) yield* repo.update(row.id, { unhealthySince: null })
            continue
          }
          if ((yield* unhealthyFor(row, now)) < graceMs) continue
          const reason = `${compute.name} reports it ${s?.state ?? "gone"}${s?.detail ? ` (${s.detail})` : ""}`
          if (row.status === "idle") {
            const moved = yield* repo.transition(row.id, ["idle"], "dead", "tick", { lastError: reason }, reason)
            if (Option.isSome(moved)) (markedDead++, yield* publish({ _tag: "InstanceDead", instanceId: row.id, reason }))
          } else {
            const moved = yield* repo.transition(row.id, ["claimed"], "crashed", "tick", { lastError: reason }, reason)
            if (Option.isSome(moved)) (markedCrashed++, yield* publish({ _tag: "InstanceCrashed", instanceId: row.id, agentName: row.agentName, reason }))
          }
        }
      }

      // 5. Destroys that failed before: try again.
      for (const row of rows.filter((r) => r.status === "draining" && r.updatedAt.getTime() < now.getTime() - 30_000)) {
        const inst = yield* repo.get(row.id)
        if (Option.isSome(inst)) yield* deps.destroy(inst.value, "destroy-retry")
      }

      // 6. Top idle up to POOL_MIN_IDLE within POOL_MAX_TOTAL.
      const counts = yield* repo.counts
      const live = counts.total - counts.dead
      const want = Math.min(settings.minIdle - (counts.idle + counts.starting), settings.maxTotal - live)
      if (counts.idle < settings.minIdle) yield* publish({ _tag: "IdleBelowTarget", idle: counts.idle, target: settings.minIdle })
      let created = 0
      if (want > 0) {
        const made = yield* Effect.forEach(Array.from({ length: want }), () => Effect.result(deps.createOne(noProgress)), { concurrency: 5 })
        created = made.filter((r) => r._tag === "Success").length
        providerCalls += made.length
      }
      return { ran: true, promoted, markedDead, markedCrashed, created, providerCalls, durationMs: Date.now() - started } satisfies TickReport
    })

    const run = semaphore.withPermitsIfAvailable(1)(withAdvisoryLock(body)).pipe(
      Effect.map((o) => Option.flatten(o).pipe(Option.getOrElse(() => notRan)))
    )
    return { run, instanceToken: (id: string) => instanceToken(settings, id) } as const
  })
