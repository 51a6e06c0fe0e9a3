/** The tick's last phases: what it does with what it learned (promote, mark dead or crashed, destroy, create). */
import { Duration, Effect, Option } from "effect"
import type { ComputeStatus } from "../providers/compute/Compute.ts"
import type { TickRow } from "./repo.ts"
import { HEALTH_CONCURRENCY, makePauses, type TickEnv, type TickRun, unhealthyFor } from "./tickState.ts"

/** A destroy that failed is tried again after this, then after twice as long each time, up to DESTROY_RETRY_MAX. */
const DESTROY_RETRY = Duration.seconds(30)
const DESTROY_RETRY_MAX = Duration.minutes(30)

/** A starting instance dies; the death counts against the create circuit. */
const die = (env: TickEnv, run: TickRun, row: TickRow, reason: string) =>
  Effect.gen(function* () {
    const moved = yield* env.repo.transition(row.id, ["starting"], "dead", "tick", { lastError: reason }, reason)
    if (Option.isNone(moved)) return "wait" as const
    run.died.push(row.id)
    yield* env.deps.publish({ _tag: "InstanceDead", instanceId: row.id, reason })
    yield* env.circuit.failed(env.provider, `instance ${row.id.slice(0, 8)} ${reason}`, "unavailable", row.id)
    return "dead" as const
  })

/**
 * 4a. starting → idle when ready; dead when the provider says it failed (after the grace) or it is not ready within
 *     POOL_START_TIMEOUT. A death before ready counts against the create circuit.
 */
export const settleStarting = Effect.fn("pool.tick.starting")(function* (
  env: TickEnv,
  run: TickRun,
  healthy: ReadonlySet<string>,
  byRef: ReadonlyMap<string, ComputeStatus>,
) {
  const { repo, provider, graceMs } = env
  const now = run.now
  const results = yield* Effect.forEach(
    run.rows.filter((r) => r.status === "starting"),
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
          yield* env.circuit.ready(provider, row.id)
          return "promoted" as const
        }
        if (s?.url && s.url !== row.url) yield* repo.update(row.id, { url: s.url }) // checked from the next tick on
        const age = now - row.createdAt.getTime()
        if (s && (s.state === "failed" || s.state === "gone") && (yield* unhealthyFor(env, row, now)) >= graceMs) {
          return yield* die(
            env,
            run,
            row,
            `never became ready: ${provider} reports it ${s.state}${s.detail ? ` (${s.detail})` : ""}`,
          )
        }
        if (age > Duration.toMillis(env.settings.startTimeout) || (row.providerRef === null && age > graceMs)) {
          return yield* die(env, run, row, `not ready after ${Duration.format(Duration.millis(age))}`)
        }
        return "wait" as const
      }),
    { concurrency: HEALTH_CONCURRENCY },
  )
  run.counts.promoted += results.filter((r) => r === "promoted").length
  run.counts.markedDead += results.filter((r) => r === "dead").length
})

/**
 * 4b. idle / claimed: healthy resets the clock; unhealthy for the grace period dies (idle) or crashes (claimed) on the
 *     provider's word of this tick: failed/gone, or up while its runtime does not answer. No answer, "unknown" or
 *     "sleeping": no evidence either way, the last known state stands.
 */
export const settleRunning = Effect.fn("pool.tick.running")(function* (
  env: TickEnv,
  run: TickRun,
  healthy: ReadonlySet<string>,
  byRef: ReadonlyMap<string, ComputeStatus>,
) {
  const { repo, provider, deps } = env
  const now = run.now
  for (const row of run.rows.filter((r) => r.status === "idle" || r.status === "claimed")) {
    // An instance started again after a restart may have a new address (local compute: its port was taken); its
    // health is checked there from the next tick on.
    const seen = row.providerRef ? byRef.get(row.providerRef) : undefined
    if (seen?.url && seen.url !== row.url && seen.state !== "gone") yield* repo.update(row.id, { url: seen.url })
    if (healthy.has(row.id)) {
      if (row.unhealthySince !== null)
        yield* repo.update(row.id, { unhealthySince: null, lastHealthyAt: new Date(now) })
      continue
    }
    if ((yield* unhealthyFor(env, row, now)) < env.graceMs) continue
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
        run.counts.markedDead++
        run.died.push(row.id)
        yield* deps.publish({ _tag: "InstanceDead", instanceId: row.id, reason })
      }
    } else {
      const moved = yield* repo.transition(row.id, ["claimed"], "crashed", "tick", { lastError: reason }, reason)
      if (Option.isSome(moved)) {
        run.counts.markedCrashed++
        yield* deps.publish({ _tag: "InstanceCrashed", instanceId: row.id, agentName: row.agentName, reason })
      }
    }
  }
})

/**
 * 5. Dead instances are destroyed; destroys that failed before are tried again with a growing pause. Each one needs
 *    budget for its destroy call; what does not fit waits for the next tick. "halted" when the provider refused our
 *    key while destroying: the configuration fault then holds everything.
 */
export const reapDead = Effect.fn("pool.tick.reap")(function* (env: TickEnv, run: TickRun) {
  const { provider, circuit, deps, costs } = env
  const { destroyRetries } = env.state
  const { rows, now } = run
  const dueRetry = (r: TickRow) => {
    const retry = destroyRetries.get(r.id)
    return retry ? now >= retry.at : r.updatedAt.getTime() < now - Duration.toMillis(DESTROY_RETRY)
  }
  const toReap = [...new Set([...rows.filter((r) => r.status === "dead").map((r) => r.id), ...run.died])]
  const toRetry = rows.filter((r) => r.status === "draining" && dueRetry(r)).map((r) => r.id)
  for (const [id, retrying] of [
    ...toReap.map((id) => [id, false] as const),
    ...toRetry.map((id) => [id, true] as const),
  ]) {
    const callsProvider = rows.find((r) => r.id === id)?.providerRef != null
    if (callsProvider && (yield* deps.budget.available) < costs.destroy) break
    const before = yield* Effect.map(circuit.state(provider), (s) => s._tag)
    const gone = yield* (retrying ? deps.retryDestroy(id) : deps.reap(id)).pipe(
      Effect.withSpan("pool.tick.destroy", { attributes: { "instance.id": id, retrying } }),
    )
    if (callsProvider) run.counts.providerCalls++
    if (gone) {
      run.counts.destroyed++
      destroyRetries.delete(id)
      continue
    }
    const retry = destroyRetries.get(id) ?? { at: 0, next: yield* makePauses(DESTROY_RETRY, DESTROY_RETRY_MAX) }
    destroyRetries.set(id, { ...retry, at: now + (yield* retry.next(now)) })
    if (before === "Closed" && (yield* env.configFault)) return "halted" as const
  }
  for (const id of destroyRetries.keys()) if (!rows.some((r) => r.id === id)) destroyRetries.delete(id)
  return "done" as const
})

/**
 * 6. Top idle up to POOL_MIN_IDLE. Every row counts toward POOL_MAX_TOTAL until it is gone (dead and draining ones
 *    too: they may still hold provider resources). Creates go through the circuit and the budget.
 */
export const topUpIdle = Effect.fn("pool.tick.top-up")(function* (env: TickEnv, run: TickRun) {
  const { settings, deps } = env
  const counts = yield* env.repo.counts
  if (counts.idle < settings.minIdle)
    yield* deps.publish({ _tag: "IdleBelowTarget", idle: counts.idle, target: settings.minIdle })
  const affordable = Math.floor((yield* deps.budget.available) / env.costs.create)
  const want = Math.min(
    settings.minIdle - (counts.idle + counts.starting),
    settings.maxTotal - counts.total,
    affordable,
  )
  const made =
    want > 0
      ? yield* deps.createMany(want).pipe(Effect.withSpan("pool.tick.create", { attributes: { wanted: want } }))
      : { attempted: 0, created: 0 }
  run.counts.providerCalls += made.attempted
  run.counts.created += made.created
})
