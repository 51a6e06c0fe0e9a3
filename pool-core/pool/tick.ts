import { Clock, Duration, Effect, Option, Ref, Schedule } from "effect"
import { instanceToken, PoolConfig } from "../config.ts"
import { type DatabaseError, providerFault } from "../domain/errors.ts"
import type { ComputeStatus } from "../providers/compute/Compute.ts"
import { Compute } from "../providers/compute/Compute.ts"
import { callCosts, type CallBudget, statusCost } from "./budget.ts"
import type { PoolEvent, TickReport } from "./Pool.ts"
import { ProviderCircuit } from "./ProviderCircuit.ts"
import { Replica } from "./replica.ts"
import { InstanceRepo, type TickRow } from "./repo.ts"
import { RuntimeClient } from "./RuntimeClient.ts"

const HEALTH_CONCURRENCY = 16
/** Refs per statusBatch call: the tick asks the provider in batches of this size (a few at a time). */
export const STATUS_BATCH = 500
const STATUS_CONCURRENCY = 4
/** A destroy that failed is tried again after this, then after twice as long each time, up to DESTROY_RETRY_MAX. */
const DESTROY_RETRY = Duration.seconds(30)
const DESTROY_RETRY_MAX = Duration.minutes(30)

/**
 * What the tick needs from the pool that built it; the services (InstanceRepo, Compute, RuntimeClient, PoolConfig,
 * Replica, ProviderCircuit) come from the context.
 */
interface TickDeps {
  readonly budget: CallBudget
  readonly publish: (e: PoolEvent) => Effect.Effect<void>
  /** Up to n creates through the circuit; how many reached the provider and how many made an instance. */
  readonly createMany: (n: number) => Effect.Effect<{ readonly attempted: number; readonly created: number }>
  /** Destroys a `dead` instance (guarded); true once its row is gone. */
  readonly reap: (id: string) => Effect.Effect<boolean, DatabaseError>
  /** Tries a `draining` instance's destroy again; true once its row is gone. */
  readonly retryDestroy: (id: string) => Effect.Effect<boolean, DatabaseError>
}

const notRan: TickReport = {
  ran: false,
  promoted: 0,
  markedDead: 0,
  markedCrashed: 0,
  created: 0,
  destroyed: 0,
  providerCalls: 0,
  healthChecks: 0,
  durationMs: 0,
}

const chunks = <A>(all: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> =>
  Array.from({ length: Math.ceil(all.length / size) }, (_, i) => all.slice(i * size, (i + 1) * size))

/** Growing pauses from a Schedule, restarted after a success. */
const makePauses = (base: Duration.Duration, max: Duration.Duration) => {
  const schedule = Schedule.exponential(Duration.max(base, Duration.seconds(1)), 2).pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, max))),
  )
  return Effect.map(
    Schedule.toStep(schedule),
    (step) => (now: number) =>
      step(now, undefined).pipe(
        Effect.map(([, d]) => Duration.toMillis(d)),
        Effect.orElseSucceed(() => Duration.toMillis(max)),
      ),
  )
}

/**
 * The reconcile tick. Never overlaps itself, in this process or across replicas (replica.ts). Each run:
 * 1. resolves claims whose replica is gone (or that are stuck far beyond POOL_PROVISION_TIMEOUT);
 * 2. checks every starting/idle/claimed runtime through its own GET /pool/health (direct, costs no provider call);
 * 3. asks the compute provider only about instances that are starting or not answering, at most every
 *    POOL_PROVIDER_STATUS_INTERVAL and within the daily call budget (RAILWAY_CALLS_PER_DAY);
 * 4. promotes ready ones; an instance not ready within POOL_START_TIMEOUT (or failed per the provider) dies, which
 *    counts against the create circuit; idle/claimed ones unhealthy for POOL_DEATH_GRACE die/crash, but only with
 *    the provider's answer of this tick in hand — never on a missing or "unknown" answer;
 * 5. destroys dead instances (failed destroys again with a growing pause); they count toward POOL_MAX_TOTAL until gone;
 * 6. tops idle up through the create circuit.
 * A provider that refuses our key ("not authorized") is a configuration fault: the tick alerts (through the circuit),
 * then changes nothing — no marking, no destroys, no creates — until the provider answers again.
 */
export const makeTick = (deps: TickDeps) =>
  Effect.gen(function* () {
    const { publish, budget } = deps
    const repo = yield* InstanceRepo
    const compute = yield* Compute
    const runtime = yield* RuntimeClient
    const settings = yield* PoolConfig
    const replica = yield* Replica
    const circuit = yield* ProviderCircuit
    const provider = compute.name
    const costs = callCosts(provider)
    const processStartedAt = yield* Clock.currentTimeMillis
    const firstRun = yield* Ref.make(true)
    const graceMs = Duration.toMillis(settings.deathGrace)
    const statusEvery = Duration.toMillis(settings.providerStatusInterval)
    // When the provider was last asked (in-process; another replica's tick asks on its own schedule).
    let nextStatusAt = 0
    let statusPause = yield* makePauses(
      Duration.max(settings.providerStatusInterval, settings.tickInterval),
      Duration.minutes(30),
    )
    const destroyRetries = new Map<string, { at: number; next: (now: number) => Effect.Effect<number> }>()

    const configFault = Effect.map(circuit.state(provider), (s) => s._tag !== "Closed" && s.fault === "unauthorized")

    /** Marks unhealthy (first sighting) or returns how long it has been unhealthy. */
    const unhealthyFor = (row: TickRow, now: number) =>
      row.unhealthySince === null
        ? repo.update(row.id, { unhealthySince: new Date(now) }).pipe(Effect.as(0))
        : Effect.succeed(now - row.unhealthySince.getTime())

    /** A claim nobody finishes any more: keep it if the runtime finished, else crashed (with why). */
    const resolveClaiming = (
      row: TickRow,
      why: string,
      health: Option.Option<{ readonly conversationId?: string | null; readonly inviteUrl?: string | null }>,
    ) =>
      Effect.gen(function* () {
        if (Option.isSome(health) && health.value.conversationId) {
          const claimedAt = new Date(yield* Clock.currentTimeMillis)
          yield* repo.transition(row.id, ["claiming"], "claimed", "recovered", {
            conversationId: health.value.conversationId,
            inviteUrl: health.value.inviteUrl ?? null,
            claimedAt,
          })
          return 0
        }
        const reason = `setting up was interrupted (${why}) before the agent was ready`
        const moved = yield* repo.transition(
          row.id,
          ["claiming"],
          "crashed",
          "recovered",
          { lastError: reason },
          reason,
        )
        if (Option.isSome(moved))
          yield* publish({ _tag: "InstanceCrashed", instanceId: row.id, agentName: row.agentName, reason })
        return Option.isSome(moved) ? 1 : 0
      })

    const body = Effect.gen(function* () {
      const started = yield* Clock.currentTimeMillis
      const now = started
      const isFirst = yield* Ref.getAndSet(firstRun, false)
      const rows = yield* repo.tickRows
      let markedCrashed = 0
      let providerCalls = 0
      let healthChecks = 0
      const health = (url: string, token?: string) =>
        Effect.suspend(() => {
          healthChecks++
          return runtime.health(url, token).pipe(Effect.option)
        })
      const report = (extra: Partial<TickReport>) =>
        Effect.map(
          Clock.currentTimeMillis,
          (end): TickReport => ({
            ...notRan,
            ran: true,
            markedCrashed,
            providerCalls,
            healthChecks,
            ...extra,
            durationMs: end - started,
          }),
        )

      // 1. Claims nobody will finish: their replica is gone (its lock is free), or they are stuck far beyond the
      //    provision timeout. Claims from before claim_owner existed: the old rule (older than this process, once).
      const stuckBefore = now - Duration.toMillis(settings.provisionTimeout) - 10_000
      const claiming = rows.filter((r) => r.status === "claiming")
      const owners = [...new Set(claiming.flatMap((r) => (r.claimOwner !== null ? [r.claimOwner] : [])))]
      const goneOwners = owners.length > 0 ? yield* replica.gone(owners, settings.replicaGoneAfter) : new Set<string>()
      const orphans = claiming.flatMap((r) => {
        if (r.updatedAt.getTime() < stuckBefore)
          return [{ row: r, why: `not finished within ${Duration.format(settings.provisionTimeout)}` }]
        if (r.claimOwner !== null ? goneOwners.has(r.claimOwner) : isFirst && r.updatedAt.getTime() < processStartedAt)
          return [{ row: r, why: "the pool process setting it up stopped" }]
        return []
      })
      const resolved = yield* Effect.forEach(
        orphans,
        ({ row, why }) =>
          (row.url ? health(row.url, instanceToken(settings, row.id)) : Effect.succeedNone).pipe(
            Effect.flatMap((h) => resolveClaiming(row, why, h)),
          ),
        {
          concurrency: HEALTH_CONCURRENCY,
        },
      ).pipe(Effect.withSpan("pool.tick.resolve-claims", { attributes: { count: orphans.length } }))
      markedCrashed += resolved.reduce<number>((a, b) => a + b, 0)

      // 2. Every runtime answers for itself: /pool/health is direct and free.
      const checked = rows.filter(
        (r) => (r.status === "starting" || r.status === "idle" || r.status === "claimed") && r.url !== null,
      )
      const answers = yield* Effect.forEach(
        checked,
        (r) => Effect.map(health(r.url!), (h) => [r.id, Option.isSome(h) && h.value.ready] as const),
        { concurrency: HEALTH_CONCURRENCY },
      ).pipe(Effect.withSpan("pool.tick.health", { attributes: { count: checked.length } }))
      const healthy = new Set(answers.flatMap(([id, ok]) => (ok ? [id] : [])))

      // 3. The provider, only about what /pool/health cannot settle, at its own pace and within the budget. During a
      //    configuration fault one ref is enough to learn whether the key works again.
      const live = (r: TickRow) =>
        r.providerRef !== null && (r.status === "starting" || r.status === "idle" || r.status === "claimed")
      const unsettled = rows.filter((r) => live(r) && !healthy.has(r.id))
      const asking = unsettled.length > 0 ? unsettled : (yield* configFault) ? rows.filter(live).slice(0, 1) : []
      let statuses = Option.none<ReadonlyMap<string, ComputeStatus>>()
      if (asking.length > 0 && now >= nextStatusAt) {
        const batches = chunks(
          asking.map((r) => ({ providerRef: r.providerRef!, providerProjectRef: r.providerProjectRef })),
          STATUS_BATCH,
        )
        if (yield* budget.take(batches.reduce((sum, b) => sum + statusCost(costs, b.length), 0))) {
          const got = yield* Effect.forEach(
            batches,
            (b) =>
              Effect.suspend(() => {
                providerCalls++
                return Effect.result(compute.statusBatch(b))
              }),
            { concurrency: STATUS_CONCURRENCY },
          ).pipe(Effect.withSpan("pool.tick.provider-status", { attributes: { provider, refs: asking.length } }))
          const failed = got.find((a) => a._tag === "Failure")
          if (failed && failed._tag === "Failure") {
            const e = failed.failure
            if (providerFault(e) === "unauthorized") yield* circuit.refused(provider, e.message)
            else if ((yield* circuit.state(provider))._tag === "Closed")
              yield* publish({ _tag: "ProviderFailing", provider: e.provider, message: e.message })
            nextStatusAt = now + (yield* statusPause(now))
            yield* Effect.logWarning(
              `tick: ${provider} status failed (${providerFault(e)}), keeping last known states: ${e.message}`,
            )
          } else {
            const byRef = new Map<string, ComputeStatus>()
            for (const a of got) if (a._tag === "Success") for (const [ref, st] of a.success) byRef.set(ref, st)
            statuses = Option.some(byRef)
            nextStatusAt = now + statusEvery
            statusPause = yield* makePauses(
              Duration.max(settings.providerStatusInterval, settings.tickInterval),
              Duration.minutes(30),
            )
            yield* circuit.answered(provider)
          }
        } else {
          yield* Effect.logWarning(
            `tick: the ${provider} call budget (RAILWAY_CALLS_PER_DAY=${budget.perDay}) is spent for now; not asking the provider this tick`,
          )
        }
      }
      // A provider that refuses our key: nothing it says (or does not say) may change any instance.
      if (yield* configFault) return yield* report({})
      const byRef = Option.getOrElse(statuses, () => new Map<string, ComputeStatus>())

      // 4a. starting → idle when ready; dead when the provider says it failed (after the grace) or it is not ready
      //     within POOL_START_TIMEOUT. A death before ready counts against the create circuit.
      const died: Array<string> = []
      const die = (row: TickRow, reason: string) =>
        Effect.gen(function* () {
          const moved = yield* repo.transition(row.id, ["starting"], "dead", "tick", { lastError: reason }, reason)
          if (Option.isNone(moved)) return "wait" as const
          died.push(row.id)
          yield* publish({ _tag: "InstanceDead", instanceId: row.id, reason })
          yield* circuit.failed(provider, `instance ${row.id.slice(0, 8)} ${reason}`, "unavailable", row.id)
          return "dead" as const
        })
      const startResults = yield* Effect.forEach(
        rows.filter((r) => r.status === "starting"),
        (row) =>
          Effect.gen(function* () {
            const s = row.providerRef ? byRef.get(row.providerRef) : undefined
            if (healthy.has(row.id)) {
              const moved = yield* repo.transition(row.id, ["starting"], "idle", "ready", {
                url: row.url,
                lastHealthyAt: new Date(now),
                unhealthySince: null,
              })
              if (Option.isNone(moved)) return "wait" as const
              yield* circuit.ready(provider, row.id)
              return "promoted" as const
            }
            if (s?.url && s.url !== row.url) yield* repo.update(row.id, { url: s.url }) // checked from the next tick on
            const age = now - row.createdAt.getTime()
            if (s && (s.state === "failed" || s.state === "gone") && (yield* unhealthyFor(row, now)) >= graceMs) {
              return yield* die(
                row,
                `never became ready: ${provider} reports it ${s.state}${s.detail ? ` (${s.detail})` : ""}`,
              )
            }
            if (age > Duration.toMillis(settings.startTimeout) || (row.providerRef === null && age > graceMs)) {
              return yield* die(row, `not ready after ${Duration.format(Duration.millis(age))}`)
            }
            return "wait" as const
          }),
        { concurrency: HEALTH_CONCURRENCY },
      ).pipe(Effect.withSpan("pool.tick.starting"))
      const promoted = startResults.filter((r) => r === "promoted").length
      let markedDead = died.length

      // 4b. idle / claimed: healthy resets the clock; unhealthy for the grace period dies (idle) or crashes (claimed)
      //     on the provider's word of this tick: failed/gone, or up while its runtime does not answer. No answer,
      //     "unknown" or "sleeping": no evidence either way, the last known state stands.
      for (const row of rows.filter((r) => r.status === "idle" || r.status === "claimed")) {
        // An instance started again after a restart may have a new address (local compute: its port was taken); its
        // health is checked there from the next tick on.
        const seen = row.providerRef ? byRef.get(row.providerRef) : undefined
        if (seen?.url && seen.url !== row.url && seen.state !== "gone") yield* repo.update(row.id, { url: seen.url })
        if (healthy.has(row.id)) {
          if (row.unhealthySince !== null)
            yield* repo.update(row.id, { unhealthySince: null, lastHealthyAt: new Date(now) })
          continue
        }
        if ((yield* unhealthyFor(row, now)) < graceMs) continue
        const s = row.providerRef ? byRef.get(row.providerRef) : undefined
        if (!s || s.state === "unknown" || s.state === "sleeping") continue
        const detail = s.detail ? ` (${s.detail})` : ""
        const reason =
          s.state === "failed" || s.state === "gone"
            ? `${provider} reports it ${s.state}${detail}`
            : `its runtime has not answered /pool/health for ${Duration.format(Duration.millis(now - (row.unhealthySince?.getTime() ?? now)))} while ${provider} reports it ${s.state}${detail}`
        if (row.status === "idle") {
          const moved = yield* repo.transition(row.id, ["idle"], "dead", "tick", { lastError: reason }, reason)
          if (Option.isSome(moved)) {
            markedDead++
            died.push(row.id)
            yield* publish({ _tag: "InstanceDead", instanceId: row.id, reason })
          }
        } else {
          const moved = yield* repo.transition(row.id, ["claimed"], "crashed", "tick", { lastError: reason }, reason)
          if (Option.isSome(moved)) {
            markedCrashed++
            yield* publish({ _tag: "InstanceCrashed", instanceId: row.id, agentName: row.agentName, reason })
          }
        }
      }

      // 5. Dead instances are destroyed; destroys that failed before are tried again with a growing pause. Each one
      //    needs budget for its destroy call; what does not fit waits for the next tick.
      const dueRetry = (r: TickRow) => {
        const retry = destroyRetries.get(r.id)
        return retry ? now >= retry.at : r.updatedAt.getTime() < now - Duration.toMillis(DESTROY_RETRY)
      }
      const toReap = [...new Set([...rows.filter((r) => r.status === "dead").map((r) => r.id), ...died])]
      const toRetry = rows.filter((r) => r.status === "draining" && dueRetry(r)).map((r) => r.id)
      let destroyed = 0
      for (const [id, retrying] of [
        ...toReap.map((id) => [id, false] as const),
        ...toRetry.map((id) => [id, true] as const),
      ]) {
        const callsProvider = rows.find((r) => r.id === id)?.providerRef != null
        if (callsProvider && (yield* budget.available) < costs.destroy) break
        const before = yield* Effect.map(circuit.state(provider), (s) => s._tag)
        const gone = yield* (retrying ? deps.retryDestroy(id) : deps.reap(id)).pipe(
          Effect.withSpan("pool.tick.destroy", { attributes: { "instance.id": id, retrying } }),
        )
        if (callsProvider) providerCalls++
        if (gone) {
          destroyed++
          destroyRetries.delete(id)
          continue
        }
        const retry = destroyRetries.get(id) ?? { at: 0, next: yield* makePauses(DESTROY_RETRY, DESTROY_RETRY_MAX) }
        destroyRetries.set(id, { ...retry, at: now + (yield* retry.next(now)) })
        // The key was refused while destroying: stop here, the configuration fault holds everything.
        if (before === "Closed" && (yield* configFault)) return yield* report({ promoted, markedDead, destroyed })
      }
      for (const id of destroyRetries.keys()) if (!rows.some((r) => r.id === id)) destroyRetries.delete(id)

      // 6. Top idle up to POOL_MIN_IDLE. Every row counts toward POOL_MAX_TOTAL until it is gone (dead and draining
      //    ones too: they may still hold provider resources). Creates go through the circuit and the budget.
      const counts = yield* repo.counts
      if (counts.idle < settings.minIdle)
        yield* publish({ _tag: "IdleBelowTarget", idle: counts.idle, target: settings.minIdle })
      const affordable = Math.floor((yield* budget.available) / costs.create)
      const want = Math.min(
        settings.minIdle - (counts.idle + counts.starting),
        settings.maxTotal - counts.total,
        affordable,
      )
      const made =
        want > 0
          ? yield* deps.createMany(want).pipe(Effect.withSpan("pool.tick.create", { attributes: { wanted: want } }))
          : { attempted: 0, created: 0 }
      providerCalls += made.attempted
      return yield* report({ promoted, markedDead, destroyed, created: made.created })
    })

    const run = replica.exclusiveTick(body).pipe(Effect.map(Option.getOrElse(() => notRan)))
    return { run } as const
  })
