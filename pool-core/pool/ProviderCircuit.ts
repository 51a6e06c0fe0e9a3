import { Clock, Context, Duration, Effect, Layer, PubSub, Schedule, Semaphore, Stream } from "effect"
import { PoolConfig } from "../config.ts"
import { ProviderError, type ProviderFault } from "../domain/errors.ts"
import type { PoolEvent } from "./Pool.ts"

// The create circuit, one per compute provider (upstream's crash loop: every tick created again, 20 creates and 20
// dead rows in 10 ticks). Closed: creates go out. A failed create, or an instance that died before it was ready (start
// timeout), opens it: creates pause. When the pause is over ONE trial create goes out (half-open); the circuit closes
// only when that trial instance becomes ready, so instances that start but never get ready cannot loop either. A failed
// trial opens it again with a longer pause (Schedule.exponential from POOL_CREATE_BACKOFF, capped at
// POOL_CREATE_BACKOFF_MAX). "Not authorized" opens it as a configuration fault: the tick then marks nothing and
// creates nothing, and the first provider call that is answered again (any call) closes it.
//
// Ops hear one event per opening (ProviderCircuitOpened) and one per closing (ProviderCircuitClosed); re-openings
// after a failed trial are the same outage and stay quiet. Time comes from Clock, so TestClock drives it in tests.

export type CircuitState =
  | { readonly _tag: "Closed" }
  | {
      readonly _tag: "Open"
      readonly openedAt: number
      /** When the next trial create may go out. */
      readonly retryAt: number
      readonly failures: number
      readonly reason: string
      readonly fault: ProviderFault
    }
  | {
      readonly _tag: "HalfOpen"
      readonly openedAt: number
      readonly failures: number
      readonly reason: string
      readonly fault: ProviderFault
      /** The trial create's instance, once its create went through; null while the create call is in flight. */
      readonly trial: string | null
      readonly trialAt: number
    }

interface Entry {
  state: CircuitState
  /** Pause lengths of this opening (a fresh Schedule step per opening). */
  nextPause: ((now: number) => Effect.Effect<Duration.Duration>) | null
}

export class ProviderCircuit extends Context.Service<
  ProviderCircuit,
  {
    /** Permission for one create at this provider. Fails, sending nothing, while creates are paused. */
    readonly acquire: (provider: string) => Effect.Effect<void, ProviderError>
    /** The create went through for this instance: if it was the half-open trial, its readiness now decides. */
    readonly created: (provider: string, instanceId: string) => Effect.Effect<void>
    /** The instance became ready: a half-open circuit whose trial it is closes. */
    readonly ready: (provider: string, instanceId: string) => Effect.Effect<void>
    /**
     * A create failed (instanceId null: the call itself) or an instance died before it was ready. Opens a closed
     * circuit; a failed trial opens it again for longer.
     */
    readonly failed: (
      provider: string,
      reason: string,
      fault: ProviderFault,
      instanceId: string | null,
    ) => Effect.Effect<void>
    /**
     * Any call was refused as not authorized: a configuration fault. Opens the circuit (or turns an open one into a
     * configuration fault, which ops hear about once more); the tick then creates and marks nothing.
     */
    readonly refused: (provider: string, reason: string) => Effect.Effect<void>
    /** Some other call to the provider was answered: ends a configuration fault (the provider accepts our key again). */
    readonly answered: (provider: string) => Effect.Effect<void>
    readonly state: (provider: string) => Effect.Effect<CircuitState>
    /** False when POOL_CREATE_BACKOFF is 0: failed creates do not pause anything (callers then alert per failure). */
    readonly pausesCreates: boolean
    /** ProviderCircuitOpened / ProviderCircuitClosed, for Pool.events. */
    readonly events: Stream.Stream<PoolEvent>
  }
>()("pool-core/pool/ProviderCircuit") {}

export interface CircuitSettings {
  readonly createBackoff: Duration.Duration
  readonly createBackoffMax: Duration.Duration
  /** A half-open trial that neither became ready nor failed within this (e.g. it was killed) no longer blocks a new one. */
  readonly trialTimeout: Duration.Duration
}

const closed: CircuitState = { _tag: "Closed" }

export const makeProviderCircuit = (settings: CircuitSettings) =>
  Effect.gen(function* () {
    const entries = new Map<string, Entry>()
    const disabled = Duration.isZero(settings.createBackoff)
    const lock = yield* Semaphore.make(1)
    const pubsub = yield* PubSub.unbounded<PoolEvent>()
    const publish = (e: PoolEvent) => PubSub.publish(pubsub, e).pipe(Effect.asVoid)
    const pauses = Schedule.exponential(settings.createBackoff, 2).pipe(
      Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, settings.createBackoffMax))),
    )
    const newPauses = Effect.map(
      Schedule.toStep(pauses),
      (step) => (now: number) =>
        step(now, undefined).pipe(
          Effect.map(([, pause]) => pause),
          Effect.orElseSucceed(() => settings.createBackoffMax),
        ),
    )
    const entry = (provider: string): Entry => {
      let e = entries.get(provider)
      if (!e) entries.set(provider, (e = { state: closed, nextPause: null }))
      return e
    }
    const serial = <A, E>(f: (now: number) => Effect.Effect<A, E>) =>
      lock.withPermits(1)(Effect.flatMap(Clock.currentTimeMillis, f))

    const paused = (provider: string, s: Exclude<CircuitState, { _tag: "Closed" }>, now: number) => {
      const what =
        s.fault === "unauthorized"
          ? `${provider} refuses the pool's credentials (${s.reason})`
          : `creates at ${provider} failed (${s.reason})`
      const when =
        s._tag === "Open"
          ? `the next trial is in ${Duration.format(Duration.millis(Math.max(0, s.retryAt - now)))}`
          : "a trial create is under way"
      return new ProviderError({
        provider,
        operation: "create",
        status: null,
        retryable: true,
        fault: s.fault === "unauthorized" ? "unauthorized" : "unavailable",
        message: `Creating agents is paused: ${what}; ${when}. ${s.fault === "unauthorized" ? "Fix the provider key or its permissions; the pool resumes by itself." : "It resumes by itself once a trial instance becomes ready."}`,
      })
    }

    const open = (
      _provider: string,
      e: Entry,
      now: number,
      reason: string,
      fault: ProviderFault,
      failures: number,
      openedAt: number,
    ) =>
      Effect.gen(function* () {
        if (e.nextPause === null) e.nextPause = yield* newPauses
        const pause = yield* e.nextPause(now)
        e.state = { _tag: "Open", openedAt, retryAt: now + Duration.toMillis(pause), failures, reason, fault }
        return pause
      })

    const openFirst = (provider: string, e: Entry, now: number, reason: string, fault: ProviderFault) =>
      Effect.gen(function* () {
        const pause = yield* open(provider, e, now, reason, fault, 1, now)
        yield* publish({ _tag: "ProviderCircuitOpened", provider, reason, fault, retryInMs: Duration.toMillis(pause) })
      })

    /** An open circuit learns the provider refuses our key: that is news for ops (what to fix), once. */
    const escalate = (provider: string, e: Entry, now: number, reason: string) =>
      Effect.gen(function* () {
        const s = e.state
        if (s._tag === "Closed" || s.fault === "unauthorized") return
        e.state = { ...s, fault: "unauthorized", reason }
        const retryInMs = s._tag === "Open" ? Math.max(0, s.retryAt - now) : 0
        yield* publish({ _tag: "ProviderCircuitOpened", provider, reason, fault: "unauthorized", retryInMs })
      })

    const close = (provider: string, e: Entry, now: number) =>
      Effect.gen(function* () {
        const s = e.state
        if (s._tag === "Closed") return
        e.state = closed
        e.nextPause = null
        yield* publish({
          _tag: "ProviderCircuitClosed",
          provider,
          pausedForMs: now - s.openedAt,
          failures: s.failures,
          fault: s.fault,
        })
      })

    return ProviderCircuit.of({
      acquire: (provider) =>
        serial((now) => {
          const e = entry(provider)
          const s = e.state
          if (s._tag === "Closed") return Effect.void
          const trialStuck = s._tag === "HalfOpen" && now - s.trialAt >= Duration.toMillis(settings.trialTimeout)
          if ((s._tag === "Open" && now >= s.retryAt) || trialStuck) {
            e.state = {
              _tag: "HalfOpen",
              openedAt: s.openedAt,
              failures: s.failures,
              reason: s.reason,
              fault: s.fault,
              trial: null,
              trialAt: now,
            }
            return Effect.void
          }
          return Effect.fail(paused(provider, s, now))
        }),
      created: (provider, instanceId) =>
        serial(() => {
          const e = entry(provider)
          if (e.state._tag === "HalfOpen" && e.state.trial === null) e.state = { ...e.state, trial: instanceId }
          return Effect.void
        }),
      ready: (provider, instanceId) =>
        serial((now) => {
          const e = entry(provider)
          return e.state._tag === "HalfOpen" && e.state.trial === instanceId ? close(provider, e, now) : Effect.void
        }),
      failed: (provider, reason, fault, instanceId) =>
        serial((now) =>
          Effect.gen(function* () {
            // No pause configured (POOL_CREATE_BACKOFF=0): failures do not pause creates; a configuration fault still counts.
            if (disabled && fault !== "unauthorized") return
            const e = entry(provider)
            const s = e.state
            if (s._tag === "Closed") return yield* openFirst(provider, e, now, reason, fault)
            // The trial failed (its create call, or its instance before it was ready): pause longer, no new alert.
            const isTrial = s._tag === "HalfOpen" && (instanceId === null ? s.trial === null : s.trial === instanceId)
            if (isTrial) yield* open(provider, e, now, reason, fault, s.failures + 1, s.openedAt)
            else if (fault === "unauthorized") yield* escalate(provider, e, now, reason)
          }),
        ),
      refused: (provider, reason) =>
        serial((now) => {
          const e = entry(provider)
          return e.state._tag === "Closed"
            ? openFirst(provider, e, now, reason, "unauthorized")
            : escalate(provider, e, now, reason)
        }),
      answered: (provider) =>
        serial((now) => {
          const e = entry(provider)
          return e.state._tag !== "Closed" && e.state.fault === "unauthorized" ? close(provider, e, now) : Effect.void
        }),
      state: (provider) => serial(() => Effect.succeed(entry(provider).state)),
      pausesCreates: !disabled,
      events: Stream.fromPubSub(pubsub),
    })
  })

/** One circuit per provider for this process, paced by PoolConfig (POOL_CREATE_BACKOFF, POOL_CREATE_BACKOFF_MAX). */
export const ProviderCircuitLive = Layer.effect(
  ProviderCircuit,
  Effect.flatMap(PoolConfig, (s) =>
    makeProviderCircuit({
      createBackoff: s.createBackoff,
      createBackoffMax: s.createBackoffMax,
      trialTimeout: Duration.sum(s.startTimeout, Duration.times(s.tickInterval, 2)),
    }),
  ),
)
