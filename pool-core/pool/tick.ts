import { Clock, Duration, Effect, Option, Ref } from "effect"
import { PoolConfig } from "../config.ts"
import { Compute } from "../providers/compute/Compute.ts"
import { callCosts } from "./budget.ts"
import { ProviderCircuit } from "./ProviderCircuit.ts"
import { Replica } from "./replica.ts"
import { InstanceRepo } from "./repo.ts"
import { RuntimeClient } from "./RuntimeClient.ts"
import { reapDead, settleRunning, settleStarting, topUpIdle } from "./tickAct.ts"
import { askProvider, checkHealth, resolveOrphanClaims } from "./tickObserve.ts"
import { noCounts, notRan, report, statusPauses, type TickDeps, type TickEnv, type TickRun } from "./tickState.ts"

export { STATUS_BATCH } from "./tickObserve.ts"

/**
 * The reconcile tick. Never overlaps itself, in this process or across replicas (replica.ts). Each run, one named
 * phase (and span) each:
 * 1. `resolveOrphanClaims`: resolves claims whose replica is gone (or stuck far beyond POOL_PROVISION_TIMEOUT);
 * 2. `checkHealth`: checks every starting/idle/claimed runtime through its own GET /pool/health (direct, costs no
 *    provider call);
 * 3. `askProvider`: asks the compute provider only about instances that are starting or not answering, at most every
 *    POOL_PROVIDER_STATUS_INTERVAL and within the daily call budget (RAILWAY_CALLS_PER_DAY);
 * 4. `settleStarting`, `settleRunning`: promotes ready ones; an instance not ready within POOL_START_TIMEOUT (or
 *    failed per the provider) dies, which counts against the create circuit; idle/claimed ones unhealthy for
 *    POOL_DEATH_GRACE die/crash, but only with the provider's answer of this tick in hand — never on a missing or
 *    "unknown" answer;
 * 5. `reapDead`: destroys dead instances (failed destroys again with a growing pause); they count toward
 *    POOL_MAX_TOTAL until gone;
 * 6. `topUpIdle`: tops idle up through the create circuit.
 * A provider that refuses our key ("not authorized") is a configuration fault: the tick alerts (through the circuit),
 * then changes nothing — no marking, no destroys, no creates — until the provider answers again.
 */
export const makeTick = (deps: TickDeps) =>
  Effect.gen(function* () {
    const compute = yield* Compute
    const settings = yield* PoolConfig
    const circuit = yield* ProviderCircuit
    const provider = compute.name
    const env: TickEnv = {
      deps,
      repo: yield* InstanceRepo,
      compute,
      runtime: yield* RuntimeClient,
      settings,
      replica: yield* Replica,
      circuit,
      provider,
      costs: callCosts(provider),
      processStartedAt: yield* Clock.currentTimeMillis,
      graceMs: Duration.toMillis(settings.deathGrace),
      configFault: Effect.map(circuit.state(provider), (s) => s._tag !== "Closed" && s.fault === "unauthorized"),
      state: { nextStatusAt: 0, statusPause: yield* statusPauses(settings), destroyRetries: new Map() },
    }
    const firstRun = yield* Ref.make(true)

    const body = Effect.gen(function* () {
      const started = yield* Clock.currentTimeMillis
      const run: TickRun = {
        started,
        now: started,
        isFirst: yield* Ref.getAndSet(firstRun, false),
        rows: yield* env.repo.tickRows,
        died: [],
        counts: noCounts(),
      }
      yield* resolveOrphanClaims(env, run)
      const healthy = yield* checkHealth(env, run)
      const statuses = yield* askProvider(env, run, healthy)
      // A provider that refuses our key: nothing it says (or does not say) may change any instance.
      if (yield* env.configFault) return yield* report(run)
      const byRef = Option.getOrElse(statuses, () => new Map())
      yield* settleStarting(env, run, healthy, byRef)
      yield* settleRunning(env, run, healthy, byRef)
      if ((yield* reapDead(env, run)) === "halted") return yield* report(run)
      yield* topUpIdle(env, run)
      return yield* report(run)
    })

    const run = env.replica.exclusiveTick(body).pipe(Effect.map(Option.getOrElse(() => notRan)))
    return { run } as const
  })
