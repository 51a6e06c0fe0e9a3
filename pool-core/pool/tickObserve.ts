/** The tick's first three phases: what it learns (claims nobody finishes, runtimes' health, the provider's word). */
import { Clock, Duration, Effect, Option } from "effect"
import { instanceToken } from "../config.ts"
import { providerFault } from "../domain/errors.ts"
import type { ComputeStatus } from "../providers/compute/Compute.ts"
import { statusCost } from "./budget.ts"
import type { TickRow } from "./repo.ts"
import { chunks, HEALTH_CONCURRENCY, health, statusPauses, type TickEnv, type TickRun } from "./tickState.ts"

/** Refs per statusBatch call: the tick asks the provider in batches of this size (a few at a time). */
export const STATUS_BATCH = 500
const STATUS_CONCURRENCY = 4

/** A claim nobody finishes any more: keep it if the runtime finished, else crashed (with why). 1 when crashed. */
const resolveClaiming = (
  env: TickEnv,
  row: TickRow,
  why: string,
  answer: Option.Option<{ readonly conversationId?: string | null; readonly inviteUrl?: string | null }>,
) =>
  Effect.gen(function* () {
    if (Option.isSome(answer) && answer.value.conversationId) {
      const claimedAt = new Date(yield* Clock.currentTimeMillis)
      yield* env.repo.transition(row.id, ["claiming"], "claimed", "recovered", {
        conversationId: answer.value.conversationId,
        inviteUrl: answer.value.inviteUrl ?? null,
        claimedAt,
      })
      return 0
    }
    const reason = `setting up was interrupted (${why}) before the agent was ready`
    const moved = yield* env.repo.transition(
      row.id,
      ["claiming"],
      "crashed",
      "recovered",
      { lastError: reason },
      reason,
    )
    // During setup: the claimer hears of it from the claim (a chat /new is resumed and claims again), not as an owner
    // notice about a running agent that "stopped working".
    if (Option.isSome(moved))
      yield* env.deps.publish({
        _tag: "InstanceCrashed",
        instanceId: row.id,
        agentName: row.agentName,
        reason,
        duringSetup: true,
      })
    return Option.isSome(moved) ? 1 : 0
  })

/**
 * 1. Claims nobody will finish: their replica is gone (its lock is free), or they are stuck far beyond the provision
 *    timeout. Claims from before claim_owner existed: the old rule (older than this process, once).
 */
export const resolveOrphanClaims = Effect.fn("pool.tick.resolve-claims")(function* (env: TickEnv, run: TickRun) {
  const { settings } = env
  const stuckBefore = run.now - Duration.toMillis(settings.provisionTimeout) - 10_000
  const claiming = run.rows.filter((r) => r.status === "claiming")
  const owners = [...new Set(claiming.flatMap((r) => (r.claimOwner !== null ? [r.claimOwner] : [])))]
  const goneOwners = owners.length > 0 ? yield* env.replica.gone(owners, settings.replicaGoneAfter) : new Set<string>()
  const orphans = claiming.flatMap((r) => {
    if (r.updatedAt.getTime() < stuckBefore)
      return [{ row: r, why: `not finished within ${Duration.format(settings.provisionTimeout)}` }]
    if (
      r.claimOwner !== null ? goneOwners.has(r.claimOwner) : run.isFirst && r.updatedAt.getTime() < env.processStartedAt
    )
      return [{ row: r, why: "the pool process setting it up stopped" }]
    return []
  })
  yield* Effect.annotateCurrentSpan("count", orphans.length)
  const resolved = yield* Effect.forEach(
    orphans,
    ({ row, why }) =>
      (row.url ? health(env, run, row.url, instanceToken(settings, row.id)) : Effect.succeedNone).pipe(
        Effect.flatMap((h) => resolveClaiming(env, row, why, h)),
      ),
    { concurrency: HEALTH_CONCURRENCY },
  )
  run.counts.markedCrashed += resolved.reduce<number>((a, b) => a + b, 0)
})

/** 2. Every runtime answers for itself: /pool/health is direct and free. The ids of those that are ready. */
export const checkHealth = Effect.fn("pool.tick.health")(function* (env: TickEnv, run: TickRun) {
  const checked = run.rows.filter(
    (r) => (r.status === "starting" || r.status === "idle" || r.status === "claimed") && r.url !== null,
  )
  yield* Effect.annotateCurrentSpan("count", checked.length)
  const answers = yield* Effect.forEach(
    checked,
    (r) => Effect.map(health(env, run, r.url!), (h) => [r.id, Option.isSome(h) && h.value.ready] as const),
    { concurrency: HEALTH_CONCURRENCY },
  )
  return new Set(answers.flatMap(([id, ok]) => (ok ? [id] : [])))
})

const live = (r: TickRow) =>
  r.providerRef !== null && (r.status === "starting" || r.status === "idle" || r.status === "claimed")

/**
 * 3. The provider, only about what /pool/health cannot settle, at its own pace and within the budget. During a
 *    configuration fault one ref is enough to learn whether the key works again. The statuses by provider ref, or
 *    none when the provider was not asked or did not answer (no evidence either way).
 */
export const askProvider = Effect.fn("pool.tick.ask-provider")(function* (
  env: TickEnv,
  run: TickRun,
  healthy: ReadonlySet<string>,
) {
  const { provider, circuit, deps, state } = env
  const now = run.now
  const unsettled = run.rows.filter((r) => live(r) && !healthy.has(r.id))
  const asking = unsettled.length > 0 ? unsettled : (yield* env.configFault) ? run.rows.filter(live).slice(0, 1) : []
  if (asking.length === 0 || now < state.nextStatusAt) return Option.none<ReadonlyMap<string, ComputeStatus>>()
  const batches = chunks(
    asking.map((r) => ({ providerRef: r.providerRef!, providerProjectRef: r.providerProjectRef })),
    STATUS_BATCH,
  )
  if (!(yield* deps.budget.take(batches.reduce((sum, b) => sum + statusCost(env.costs, b.length), 0)))) {
    yield* Effect.logWarning(
      `tick: the ${provider} call budget (RAILWAY_CALLS_PER_DAY=${deps.budget.perDay}) is spent for now; not asking the provider this tick`,
    )
    return Option.none<ReadonlyMap<string, ComputeStatus>>()
  }
  const got = yield* Effect.forEach(
    batches,
    (b) =>
      Effect.suspend(() => {
        run.counts.providerCalls++
        return Effect.result(env.compute.statusBatch(b))
      }),
    { concurrency: STATUS_CONCURRENCY },
  ).pipe(Effect.withSpan("pool.tick.provider-status", { attributes: { provider, refs: asking.length } }))
  const failed = got.find((a) => a._tag === "Failure")
  if (failed && failed._tag === "Failure") {
    const e = failed.failure
    if (providerFault(e) === "unauthorized") yield* circuit.refused(provider, e.message)
    else if ((yield* circuit.state(provider))._tag === "Closed")
      yield* deps.publish({ _tag: "ProviderFailing", provider: e.provider, message: e.message })
    state.nextStatusAt = now + (yield* state.statusPause(now))
    yield* Effect.logWarning(
      `tick: ${provider} status failed (${providerFault(e)}), keeping last known states: ${e.message}`,
    )
    return Option.none<ReadonlyMap<string, ComputeStatus>>()
  }
  const byRef = new Map<string, ComputeStatus>()
  for (const a of got) if (a._tag === "Success") for (const [ref, st] of a.success) byRef.set(ref, st)
  state.nextStatusAt = now + Duration.toMillis(env.settings.providerStatusInterval)
  state.statusPause = yield* statusPauses(env.settings)
  yield* circuit.answered(provider)
  return Option.some<ReadonlyMap<string, ComputeStatus>>(byRef)
})
