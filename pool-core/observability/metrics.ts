import { Cause, Clock, Effect, Exit, Metric, Option } from "effect"

// The pool's metrics (Effect Metric; messaging's own are in @convos-agents/messaging metered.ts). Read at /metrics as Prometheus text (api/routes/probes.ts) and, when
// OTEL_EXPORTER_OTLP_ENDPOINT is set, pushed over OTLP (observability/Telemetry.ts). Names follow Prometheus
// conventions: seconds for durations, `_total` for counters. Attributes are low-cardinality on purpose (outcomes,
// providers, command names): never an instance id or an owner, which belong in logs and spans.

/** Seconds: from a fast claim on an idle agent (tens of ms) to a provision that ran into its timeout (minutes). */
const latencyBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

export const claimDuration = Metric.histogram("pool_claim_duration_seconds", {
  description: "Time from a claim request to its answer",
  boundaries: latencyBuckets,
})
export const claimsTotal = Metric.counter("pool_claims_total", {
  description: "Claims answered, by outcome",
  incremental: true,
})
export const claimsWaiting = Metric.gauge("pool_claims_waiting", {
  description: "Claims of this process waiting for an agent to become ready (CLAIM_WAIT)",
})
export const claimsInFlight = Metric.gauge("pool_claims_in_flight", {
  description: "Claims being answered now (picking and provisioning)",
})

/** Counts `effect` in `gauge` while it runs. */
export const inFlight = <A, E, R>(
  gauge: Metric.Gauge<number>,
  effect: Effect.Effect<A, E, R>,
): Effect.Effect<A, E, R> =>
  Effect.andThen(Metric.modify(gauge, 1), effect).pipe(Effect.ensuring(Metric.modify(gauge, -1)))

export const tickDuration = Metric.histogram("pool_tick_duration_seconds", {
  description: "Duration of reconcile ticks that ran",
  boundaries: latencyBuckets,
})
export const ticksTotal = Metric.counter("pool_ticks_total", {
  description: "Reconcile ticks, by outcome (ran, skipped: another replica holds the lock, failed)",
  incremental: true,
})
export const tickProviderCalls = Metric.counter("pool_tick_provider_calls_total", {
  description: "Compute provider requests the tick made",
  incremental: true,
})
export const instancesByStatus = Metric.gauge("pool_instances", {
  description: "Instances by status, as of the last tick",
})

export const botCommandsTotal = Metric.counter("bot_commands_total", {
  description: "Manager bot commands, by command and outcome",
  incremental: true,
})
export const botCommandDuration = Metric.histogram("bot_command_duration_seconds", {
  description: "Time the manager bot took to answer a command",
  boundaries: latencyBuckets,
})

export const providerCallsTotal = Metric.counter("provider_calls_total", {
  description: "HTTP calls to providers, by provider and outcome",
  incremental: true,
})
export const providerCallDuration = Metric.histogram("provider_call_duration_seconds", {
  description: "Provider call latency, retries included",
  boundaries: latencyBuckets,
})

/** Adds one to `counter` under `attributes`. */
export const count = (counter: Metric.Counter<number>, attributes: Record<string, string>) =>
  Metric.update(Metric.withAttributes(counter, attributes), 1)

/**
 * Runs `effect`, then records its duration in `histogram` and one count in `counter`, both under the attributes
 * `outcome(exit)` gives (plus `attributes`). Durations come from Clock, so tests with TestClock see their own time.
 */
export const measured = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  metrics: { readonly histogram: Metric.Histogram<number>; readonly counter: Metric.Counter<number> },
  outcome: (exit: Exit.Exit<A, E>) => string,
  attributes: Record<string, string> = {},
): Effect.Effect<A, E, R> =>
  Effect.flatMap(Clock.currentTimeMillis, (start) =>
    Effect.onExit(effect, (exit) =>
      Effect.flatMap(Clock.currentTimeMillis, (end) =>
        Effect.all(
          [
            Metric.update(Metric.withAttributes(metrics.histogram, attributes), (end - start) / 1000),
            count(metrics.counter, { ...attributes, outcome: outcome(exit) }),
          ],
          { discard: true },
        ),
      ),
    ),
  )

/** The tag of a failure (e.g. NoAgentAvailable), "ok" on success, "interrupted" or "defect" otherwise. */
export const outcomeOf = <A, E>(exit: Exit.Exit<A, E>): string => {
  if (Exit.isSuccess(exit)) return "ok"
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isSome(error)) {
    const tag = (error.value as { _tag?: unknown } | null)?._tag
    return typeof tag === "string" ? tag : "error"
  }
  return Cause.hasInterrupts(exit.cause) ? "interrupted" : "defect"
}
