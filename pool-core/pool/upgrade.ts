import { Clock, Duration, Effect, Option, type Scope } from "effect"
import type { PoolSettings } from "../config.ts"
import { type DatabaseError, ProviderError, UpgradeRefused } from "../domain/errors.ts"
import type { Instance } from "../domain/instance.ts"
import type { Compute } from "../providers/compute/Compute.ts"
import { untilAnswering } from "./answering.ts"
import type { OnProgress, PoolEvent } from "./Pool.ts"
import type { InstanceRepo } from "./repo.ts"
import type { RuntimeClient } from "./RuntimeClient.ts"
import type { UpgradeLockHeld } from "./upgradeLock.ts"

// The rolling upgrade (issue 20): every idle agent is restarted on the runtime this deployment runs now, all at once
// (nobody is talking to them; they leave `idle` while they restart, so no claim lands on one), then every claimed agent,
// one at a time, each on its own state (identity, conversations, profile), waited for until it answers before the next
// starts: at most one person's agent is away at any moment. A failure is reported and the upgrade goes on; nothing is
// retried (an idle one that fails is marked dead and replaced by the tick; a claimed one stays claimed with the reason
// in lastError, and the tick decides whether it crashed, as after any restart).

type Repo = InstanceRepo["Service"]

export interface UpgradeFailure {
  readonly instanceId: string
  readonly agentName: string | null
  readonly was: "idle" | "claimed"
  readonly reason: string
}

export interface UpgradeReport {
  readonly idle: { readonly restarted: number; readonly failed: number }
  readonly claimed: { readonly restarted: number; readonly failed: number }
  readonly failures: ReadonlyArray<UpgradeFailure>
  readonly durationMs: number
}

export interface UpgradeDeps {
  readonly repo: Repo
  readonly settings: PoolSettings
  readonly compute: Compute["Service"]
  readonly runtime: RuntimeClient["Service"]
  readonly token: (id: string) => string
  readonly publish: (e: PoolEvent) => Effect.Effect<void>
  /** The upgrade lock across replicas (upgradeLock.ts). */
  readonly lock: { readonly tryHold: Effect.Effect<Option.Option<UpgradeLockHeld>, DatabaseError, Scope.Scope> }
}

const short = (id: string) => id.slice(0, 8)
const messageOf = (e: unknown) => (e as { message?: string })?.message ?? String(e)

export const makeUpgrade = (deps: UpgradeDeps) => {
  const { repo, settings, compute } = deps

  /** Restarts the instance on the new runtime and waits until it answers; the address it answers at. */
  const restartAndWait = (i: Instance, upgradeOf: NonNullable<Compute["Service"]["upgrade"]>) =>
    Effect.gen(function* () {
      const handle = yield* upgradeOf(i.providerRef!)
      const url = handle.url ?? i.url
      if (url !== i.url) yield* repo.update(i.id, { url })
      if (!url)
        return yield* Effect.fail(
          new ProviderError({
            provider: deps.compute.name,
            operation: "restart",
            status: null,
            retryable: false,
            message: "it has no address after the restart (the compute provider gave none): destroy it and claim again",
          }),
        )
      yield* untilAnswering(
        deps.runtime,
        url,
        deps.token(i.id),
        settings.startTimeout,
        (within) => `it did not answer within ${within} of the restart (POOL_START_TIMEOUT)`,
      )
    })

  const step = (
    i: Instance,
    claimed: boolean,
    phase: "restarting" | "back" | "failed",
    onProgress: OnProgress,
    reason?: string,
  ) =>
    Effect.all([
      deps.publish({
        _tag: "UpgradeStep",
        instanceId: i.id,
        agentName: i.agentName,
        claimed,
        phase,
        ...(reason ? { reason } : {}),
      }),
      onProgress({
        step: claimed ? "upgrade-claimed" : "upgrade-idle",
        status: phase === "restarting" ? "active" : phase === "back" ? "ok" : "fail",
        message:
          phase === "restarting"
            ? `restarting ${claimed ? (i.agentName ?? "an agent") : "idle"} [${short(i.id)}]`
            : phase === "back"
              ? `${claimed ? (i.agentName ?? "agent") : "idle"} [${short(i.id)}] is back on the new runtime`
              : `${claimed ? (i.agentName ?? "agent") : "idle"} [${short(i.id)}] failed: ${reason}`,
        instanceId: i.id,
      }),
    ]).pipe(Effect.asVoid)

  /** An idle one leaves `idle` first (no claim can take it while it restarts), its start clock set to now. */
  const upgradeIdle = (i: Instance, upgradeOf: NonNullable<Compute["Service"]["upgrade"]>, onProgress: OnProgress) =>
    Effect.gen(function* () {
      const now = new Date(yield* Clock.currentTimeMillis)
      const moved = yield* repo.transition(i.id, ["idle"], "starting", "upgrade", {
        createdAt: now,
        unhealthySince: null,
      })
      if (Option.isNone(moved)) return Option.none<UpgradeFailure>() // claimed meanwhile: it is a claimed one now
      yield* step(i, false, "restarting", onProgress)
      const done = yield* Effect.result(restartAndWait(i, upgradeOf))
      if (done._tag === "Success") {
        // The tick may have promoted it already (it answers): either way it is idle again.
        yield* repo.transition(i.id, ["starting"], "idle", "upgraded", {
          lastHealthyAt: new Date(yield* Clock.currentTimeMillis),
          unhealthySince: null,
        })
        yield* step(i, false, "back", onProgress)
        return Option.none<UpgradeFailure>()
      }
      const reason = messageOf(done.failure)
      // Nobody's agent: the tick destroys it and starts a new one.
      yield* repo.transition(
        i.id,
        ["starting", "idle"],
        "dead",
        "upgrade-failed",
        { lastError: `upgrade: ${reason}` },
        reason,
      )
      yield* step(i, false, "failed", onProgress, reason)
      return Option.some<UpgradeFailure>({ instanceId: i.id, agentName: i.agentName, was: "idle", reason })
    })

  /** A claimed one keeps its status and state; its events row says it was restarted for the upgrade. */
  const upgradeClaimed = (i: Instance, upgradeOf: NonNullable<Compute["Service"]["upgrade"]>, onProgress: OnProgress) =>
    Effect.gen(function* () {
      const still = yield* repo.transition(i.id, ["claimed"], "claimed", "upgrade", {}, "restarting on the new runtime")
      if (Option.isNone(still)) return Option.none<UpgradeFailure>() // released or crashed meanwhile: not ours to restart
      yield* step(i, true, "restarting", onProgress)
      const done = yield* Effect.result(restartAndWait(i, upgradeOf))
      if (done._tag === "Success") {
        yield* repo.transition(i.id, ["claimed"], "claimed", "upgraded", {
          lastHealthyAt: new Date(yield* Clock.currentTimeMillis),
          unhealthySince: null,
          lastError: null,
        })
        yield* step(i, true, "back", onProgress)
        return Option.none<UpgradeFailure>()
      }
      const reason = messageOf(done.failure)
      yield* repo.update(i.id, { lastError: `upgrade: ${reason}` })
      yield* step(i, true, "failed", onProgress, reason)
      return Option.some<UpgradeFailure>({ instanceId: i.id, agentName: i.agentName, was: "claimed", reason })
    })

  const lockLost =
    "not restarted: this replica lost the upgrade lock (its database session ended), so another upgrade may be running; run the upgrade again once none is"

  const run = (onProgress: OnProgress, lock: UpgradeLockHeld) =>
    Effect.gen(function* () {
      const started = yield* Clock.currentTimeMillis
      const upgradeOf = compute.upgrade!
      const idle = (yield* repo.list({ status: ["idle"] })).filter((i) => i.providerRef !== null)
      const claimed = (yield* repo.list({ status: ["claimed"] })).filter((i) => i.providerRef !== null)
      yield* onProgress({
        step: "upgrade",
        status: "active",
        message: `upgrading ${idle.length} idle agent(s) at once, then ${claimed.length} claimed agent(s) one at a time`,
      })
      // Whatever goes wrong with one agent (its restart, the database meanwhile) is that agent's failure; each agent's
      // step runs to its end even when the caller goes away, so none is left half-restarted by an interruption.
      const each = (
        i: Instance,
        was: "idle" | "claimed",
        attempt: Effect.Effect<Option.Option<UpgradeFailure>, unknown>,
      ) =>
        attempt.pipe(
          Effect.catch((e) =>
            Effect.succeed(
              Option.some<UpgradeFailure>({ instanceId: i.id, agentName: i.agentName, was, reason: messageOf(e) }),
            ),
          ),
          Effect.uninterruptible,
        )
      const idleFailures = yield* Effect.forEach(idle, (i) => each(i, "idle", upgradeIdle(i, upgradeOf, onProgress)), {
        concurrency: "unbounded",
      })
      const claimedFailures = yield* Effect.forEach(
        claimed,
        (i) =>
          // Someone's agent goes down only while no other replica can be upgrading (upgradeLock.ts).
          Effect.flatMap(lock.stillHeld, (held) =>
            held
              ? each(i, "claimed", upgradeClaimed(i, upgradeOf, onProgress))
              : step(i, true, "failed", onProgress, lockLost).pipe(
                  Effect.as(
                    Option.some<UpgradeFailure>({
                      instanceId: i.id,
                      agentName: i.agentName,
                      was: "claimed",
                      reason: lockLost,
                    }),
                  ),
                ),
          ),
        { concurrency: 1 },
      )
      const failures = [...idleFailures, ...claimedFailures].flatMap((o) => (Option.isSome(o) ? [o.value] : []))
      const failedOf = (was: "idle" | "claimed") => failures.filter((f) => f.was === was).length
      const report: UpgradeReport = {
        idle: { restarted: idle.length - failedOf("idle"), failed: failedOf("idle") },
        claimed: { restarted: claimed.length - failedOf("claimed"), failed: failedOf("claimed") },
        failures,
        durationMs: (yield* Clock.currentTimeMillis) - started,
      }
      yield* onProgress({
        step: "upgrade",
        status: failures.length === 0 ? "ok" : "fail",
        message: `upgrade done in ${Duration.format(Duration.millis(report.durationMs))}: ${report.idle.restarted + report.claimed.restarted} restarted, ${failures.length} failed`,
      })
      return report
    })

  const upgrade = (onProgress: OnProgress) =>
    Effect.gen(function* () {
      if (!compute.upgrade)
        return yield* new UpgradeRefused({
          reason: "unsupported",
          message: `This deployment's compute (${compute.name}) cannot restart running agents in place, so nothing was restarted. Agents created from now on run the new runtime; a running one moves to it only when it is released and claimed anew.`,
        })
      // One upgrade at a time on the database, whichever replica runs it; held until this one's report.
      const lock = yield* deps.lock.tryHold
      if (Option.isNone(lock))
        return yield* new UpgradeRefused({
          reason: "running",
          message: "An upgrade is already running; wait for its report (nothing new was started).",
        })
      return yield* run(onProgress, lock.value)
    }).pipe(Effect.scoped)

  return { upgrade } as const
}
