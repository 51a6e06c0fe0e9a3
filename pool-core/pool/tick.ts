import { Duration, Effect, Option, Ref } from "effect"
import { instanceToken, type PoolSettings } from "../config.ts"
import type { DatabaseError, ProviderError } from "../domain/errors.ts"
import type { Instance } from "../domain/instance.ts"
import type { ComputeStatus } from "../providers/compute/Compute.ts"
import { Compute } from "../providers/compute/Compute.ts"
import type { OnProgress, PoolEvent, TickReport } from "./Pool.ts"
import type { Replica } from "./replica.ts"
import { type InstanceRepo, type TickRow } from "./repo.ts"
import type { RuntimeClient } from "./RuntimeClient.ts"

const HEALTH_CONCURRENCY = 16
/** Refs per statusBatch call: the tick asks the provider in batches of this size (a few at a time). */
export const STATUS_BATCH = 500
const STATUS_CONCURRENCY = 4

interface TickDeps {
  readonly repo: InstanceRepo
  readonly compute: Compute["Service"]
  readonly runtime: RuntimeClient["Service"]
  readonly settings: PoolSettings
  readonly replica: Replica
  readonly publish: (e: PoolEvent) => Effect.Effect<void>
  readonly createOne: (onProgress: OnProgress) => Effect.Effect<Instance, ProviderError | DatabaseError>
  readonly destroy: (instance: Instance, kind: string) => Effect.Effect<void, DatabaseError>
}

const notRan: TickReport = { ran: false, promoted: 0, markedDead: 0, markedCrashed: 0, created: 0, providerCalls: 0, healthChecks: 0, durationMs: 0 }
const noProgress: OnProgress = () => Effect.void

const chunks = <A>(all: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> =>
  Array.from({ length: Math.ceil(all.length / size) }, (_, i) => all.slice(i * size, (i + 1) * size))

/**
 * The reconcile tick. Never overlaps itself, in this process or across replicas (replica.ts), asks the provider
 * for every instance in batches of STATUS_BATCH, promotes starting → idle on /pool/health, declares dead/crashed only
 * after POOL_DEATH_GRACE of continuous failure, retries stuck destroys, resolves claims whose replica is gone (or
 * that are stuck far beyond POOL_PROVISION_TIMEOUT), tops idle up. When the provider cannot be asked, nothing is
 * declared dead: the last known state stands.
 */
export const makeTick = (deps: TickDeps) =>
  Effect.gen(function* () {
    const { repo, compute, runtime, settings, publish, replica } = deps
    const processStartedAt = new Date()
    const firstRun = yield* Ref.make(true)
    const graceMs = Duration.toMillis(settings.deathGrace)

    /** Marks unhealthy (first sighting) or returns how long it has been unhealthy. */
    const unhealthyFor = (row: TickRow, now: Date) =>
      row.unhealthySince === null
        ? repo.update(row.id, { unhealthySince: now }).pipe(Effect.as(0))
        : Effect.succeed(now.getTime() - row.unhealthySince.getTime())

    /** A claim nobody finishes any more: keep it if the runtime finished, else crashed (with why). */
    const resolveClaiming = (row: TickRow, why: string, health: Option.Option<{ readonly conversationId?: string | null; readonly inviteUrl?: string | null }>) =>
      Effect.gen(function* () {
        if (Option.isSome(health) && health.value.conversationId) {
          yield* repo.transition(row.id, ["claiming"], "claimed", "recovered", {
            conversationId: health.value.conversationId,
            inviteUrl: health.value.inviteUrl ?? null,
            claimedAt: new Date(),
          })
          return 0
        }
        const reason = `setting up was interrupted (${why}) before the agent was ready`
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
      let healthChecks = 0
      const health = (url: string, token?: string) => Effect.suspend(() => (healthChecks++, runtime.health(url, token).pipe(Effect.option)))

      // 1. Claims nobody will finish: their replica is gone (its lock is free), or they are stuck far beyond the
      //    provision timeout. Claims from before claim_owner existed: the old rule (older than this process, once).
      const stuckBefore = now.getTime() - Duration.toMillis(settings.provisionTimeout) - 10_000
      const claiming = rows.filter((r) => r.status === "claiming")
      const owners = [...new Set(claiming.flatMap((r) => (r.claimOwner !== null ? [r.claimOwner] : [])))]
      const goneOwners = owners.length > 0 ? yield* replica.gone(owners, settings.replicaGoneAfter) : new Set<string>()
      const orphans = claiming.flatMap((r) => {
        if (r.updatedAt.getTime() < stuckBefore) return [{ row: r, why: `not finished within ${Duration.format(settings.provisionTimeout)}` }]
        if (r.claimOwner !== null ? goneOwners.has(r.claimOwner) : isFirst && r.updatedAt < processStartedAt) {
          return [{ row: r, why: "the pool process setting it up stopped" }]
        }
        return []
      })
      const resolved: ReadonlyArray<number> = yield* Effect.forEach(
        orphans,
        ({ row, why }) => (row.url ? health(row.url, instanceToken(settings, row.id)) : Effect.succeedNone).pipe(Effect.flatMap((h) => resolveClaiming(row, why, h))),
        { concurrency: HEALTH_CONCURRENCY }
      )
      markedCrashed += resolved.reduce((a, b) => a + b, 0)

      // 2. The provider's view of every instance it knows, in batches (each batch is one provider call).
      const known = rows.filter((r) => r.providerRef !== null && r.status !== "claiming")
      const answers = yield* Effect.forEach(
        chunks(known.map((r) => ({ providerRef: r.providerRef!, providerProjectRef: r.providerProjectRef })), STATUS_BATCH),
        (batch) => Effect.suspend(() => (providerCalls++, Effect.result(compute.statusBatch(batch)))),
        { concurrency: STATUS_CONCURRENCY }
      )
      const failed = answers.find((a) => a._tag === "Failure")
      let statuses: Option.Option<ReadonlyMap<string, ComputeStatus>> = Option.none()
      if (failed && failed._tag === "Failure") {
        const e = failed.failure
        yield* publish({ _tag: "ProviderFailing", provider: e.provider, message: e.message })
        yield* Effect.logWarning(`tick: ${compute.name} status failed, keeping last known states: ${e.message}`)
      } else {
        const byRef = new Map<string, ComputeStatus>()
        for (const a of answers) if (a._tag === "Success") for (const [ref, st] of a.success) byRef.set(ref, st)
        statuses = Option.some(byRef)
      }

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
              if (url && (!s || s.state === "running" || s.state === "unknown")) {
                const h = yield* health(url)
                if (Option.isSome(h) && h.value.ready) {
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
          // The provider could not say this time: no evidence either way, so the unhealthy clock neither starts nor resets.
          if (s?.state === "unknown") continue
          const failing = !s || s.state === "failed" || s.state === "gone"
          if (!failing) {
            // An instance started again after a restart may have a new address (local compute: its port was taken).
            const moved = s.url !== null && s.url !== row.url
            if (row.unhealthySince !== null || moved) yield* repo.update(row.id, { unhealthySince: null, ...(moved ? { url: s.url } : {}) })
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
        if (Option.isSome(inst)) (providerCalls++, yield* deps.destroy(inst.value, "destroy-retry"))
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
      return { ran: true, promoted, markedDead, markedCrashed, created, providerCalls, healthChecks, durationMs: Date.now() - started } satisfies TickReport
    })

    const run = replica.exclusiveTick(body).pipe(Effect.map(Option.getOrElse(() => notRan)))
    return { run, instanceToken: (id: string) => instanceToken(settings, id) } as const
  })
