import { Context, Duration, Effect, Layer, Option, Schema, Scope } from "effect"
import { SqlClient } from "effect/sql"

// What /readyz asks (api/routes/probes.ts). Each part of the system that can be "up but not working" registers a
// check here for as long as it runs: the database (always, from this layer), the pool's tick (PoolLive), the manager
// bot's messaging client (ManagerBot). A check answers a short detail when fine and fails with what is wrong.
// /healthz stays liveness only (the process answers HTTP), so an orchestrator restarts on that and routes on this.

export interface CheckResult {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

export interface ReadinessReport {
  readonly ready: boolean
  readonly checks: ReadonlyArray<CheckResult>
}

/** What a failing check says is wrong (shown by /readyz to operators): what fails and, where known, what to do. */
export class CheckFailed extends Schema.TaggedError<CheckFailed>()("CheckFailed", { message: Schema.String }) {}

/** A failed check saying `message`. */
export const checkFailed = (message: string) => Effect.fail(new CheckFailed({ message }))

/** A check that does not answer within this is a failed check: /readyz must answer even when a dependency hangs. */
const CHECK_TIMEOUT = Duration.seconds(3)

export class Readiness extends Context.Service<
  Readiness,
  {
    /** Adds a check for the life of the caller's scope. */
    readonly register: (
      name: string,
      check: Effect.Effect<string, CheckFailed>,
    ) => Effect.Effect<void, never, Scope.Scope>
    /** Runs every check (concurrently, each under a timeout). */
    readonly report: Effect.Effect<ReadinessReport>
  }
>()("pool-core/observability/Readiness") {}

const runCheck = (name: string, check: Effect.Effect<string, CheckFailed>): Effect.Effect<CheckResult> =>
  check.pipe(
    Effect.timeoutOrElse({
      duration: CHECK_TIMEOUT,
      orElse: () => checkFailed(`no answer within ${Duration.format(CHECK_TIMEOUT)}`),
    }),
    Effect.match({
      onSuccess: (detail) => ({ name, ok: true, detail }),
      onFailure: (e) => ({ name, ok: false, detail: e.message }),
    }),
    Effect.catchCause(() => Effect.succeed({ name, ok: false, detail: "the check itself failed; see the logs" })),
    Effect.withSpan(`readiness.${name}`),
  )

export const makeReadiness = Effect.gen(function* () {
  const checks = new Map<string, Effect.Effect<string, CheckFailed>>()
  const sql = yield* SqlClient.SqlClient
  checks.set(
    "database",
    sql`SELECT 1 AS ok`.pipe(
      Effect.as("answers"),
      Effect.mapError((e) => new CheckFailed({ message: `not answering: ${e.message.split("\n")[0]!.slice(0, 200)}` })),
    ),
  )
  return Readiness.of({
    register: (name, check) =>
      Effect.acquireRelease(
        Effect.sync(() => void checks.set(name, check)),
        () => Effect.sync(() => void checks.delete(name)),
      ),
    report: Effect.suspend(() =>
      Effect.forEach([...checks], ([name, check]) => runCheck(name, check), { concurrency: "unbounded" }),
    ).pipe(Effect.map((results) => ({ ready: results.every((r) => r.ok), checks: results }))),
  })
})

/** Readiness with the database check; the rest register themselves. */
export const ReadinessLive = Layer.effect(Readiness, makeReadiness)

/** Registers a check when Readiness is provided; a no-op otherwise (tests and tools that build only part of the system). */
export const registerCheck = (name: string, check: Effect.Effect<string, CheckFailed>) =>
  Effect.flatMap(
    Effect.serviceOption(Readiness),
    Option.match({ onNone: () => Effect.void, onSome: (r) => r.register(name, check) }),
  )
