/** What the tick's phases share: the services, the settings, and the state kept from one tick to the next. */
import { Clock, Duration, Effect, Schedule } from "effect"
import type { PoolConfig } from "../config.ts"
import type { DatabaseError } from "../domain/errors.ts"
import type { Compute } from "../providers/compute/Compute.ts"
import type { CallBudget, callCosts } from "./budget.ts"
import type { PoolEvent, TickReport } from "./Pool.ts"
import type { ProviderCircuit } from "./ProviderCircuit.ts"
import type { Replica } from "./replica.ts"
import type { InstanceRepo, TickRow } from "./repo.ts"
import type { RuntimeClient } from "./RuntimeClient.ts"

export const HEALTH_CONCURRENCY = 16

/**
 * What the tick needs from the pool that built it; the services (InstanceRepo, Compute, RuntimeClient, PoolConfig,
 * Replica, ProviderCircuit) come from the context.
 */
export interface TickDeps {
  readonly budget: CallBudget
  readonly publish: (e: PoolEvent) => Effect.Effect<void>
  /** Up to n creates through the circuit; how many reached the provider and how many made an instance. */
  readonly createMany: (n: number) => Effect.Effect<{ readonly attempted: number; readonly created: number }>
  /** Destroys a `dead` instance (guarded); true once its row is gone. */
  readonly reap: (id: string) => Effect.Effect<boolean, DatabaseError>
  /** Tries a `draining` instance's destroy again; true once its row is gone. */
  readonly retryDestroy: (id: string) => Effect.Effect<boolean, DatabaseError>
}

/** Milliseconds to wait before the next try, given the current time; grows on each call. */
export type Pauses = (now: number) => Effect.Effect<number>

/** The tick's services and settings, read once when the tick is made, and its state between runs. */
export interface TickEnv {
  readonly deps: TickDeps
  readonly repo: InstanceRepo["Service"]
  readonly compute: Compute["Service"]
  readonly runtime: RuntimeClient["Service"]
  readonly settings: PoolConfig["Service"]
  readonly replica: Replica["Service"]
  readonly circuit: ProviderCircuit["Service"]
  readonly provider: string
  readonly costs: ReturnType<typeof callCosts>
  readonly processStartedAt: number
  readonly graceMs: number
  /** True while the provider refuses our key (a configuration fault holds everything). */
  readonly configFault: Effect.Effect<boolean>
  readonly state: {
    /** When the provider may be asked again (in-process; another replica's tick asks on its own schedule). */
    nextStatusAt: number
    statusPause: Pauses
    /** Failed destroys: when each is tried again. */
    readonly destroyRetries: Map<string, { at: number; next: Pauses }>
  }
}

/** One run of the tick: the rows it read at `now` and what it did so far. */
export interface TickRun {
  readonly started: number
  readonly now: number
  readonly isFirst: boolean
  readonly rows: ReadonlyArray<TickRow>
  /** Instances this run moved to dead (destroyed in the same run). */
  readonly died: Array<string>
  readonly counts: {
    promoted: number
    markedDead: number
    markedCrashed: number
    created: number
    destroyed: number
    providerCalls: number
    healthChecks: number
  }
}

/** What a tick counts, before it has counted anything. */
export const noCounts = (): TickRun["counts"] => ({
  promoted: 0,
  markedDead: 0,
  markedCrashed: 0,
  created: 0,
  destroyed: 0,
  providerCalls: 0,
  healthChecks: 0,
})

export const notRan: TickReport = { ran: false, ...noCounts(), durationMs: 0 }

export const report = (run: TickRun) =>
  Effect.map(
    Clock.currentTimeMillis,
    (end): TickReport => ({ ...notRan, ran: true, ...run.counts, durationMs: end - run.started }),
  )

/** A runtime's own GET /pool/health (counted); none when it does not answer. */
export const health = (env: TickEnv, run: TickRun, url: string, token?: string) =>
  Effect.suspend(() => {
    run.counts.healthChecks++
    return env.runtime.health(url, token).pipe(Effect.option)
  })

/** Marks unhealthy (first sighting) or returns how long it has been unhealthy. */
export const unhealthyFor = (env: TickEnv, row: TickRow, now: number) =>
  row.unhealthySince === null
    ? env.repo.update(row.id, { unhealthySince: new Date(now) }).pipe(Effect.as(0))
    : Effect.succeed(now - row.unhealthySince.getTime())

export const chunks = <A>(all: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> =>
  Array.from({ length: Math.ceil(all.length / size) }, (_, i) => all.slice(i * size, (i + 1) * size))

/** Growing pauses from a Schedule, restarted after a success. */
export const makePauses = (base: Duration.Duration, max: Duration.Duration): Effect.Effect<Pauses> => {
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

/** The pauses between provider status calls after a failure. */
export const statusPauses = (settings: PoolConfig["Service"]) =>
  makePauses(Duration.max(settings.providerStatusInterval, settings.tickInterval), Duration.minutes(30))
