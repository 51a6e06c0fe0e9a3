import { Clock, Duration, Effect, Exit, Option } from "effect"
import { SqlClient } from "effect/sql"
import { PoolConfig } from "../config.ts"
import {
  ClaimSuperseded,
  DatabaseError,
  InstanceNotFound,
  InvalidRequest,
  NoAgentAvailable,
  ProvisionFailed,
  SetupTimedOut,
} from "../domain/errors.ts"
import type { Instance } from "../domain/instance.ts"
import { QuotaExceeded } from "../domain/quota.ts"
import type { Template } from "../domain/template.ts"
import { claimDuration, claimsInFlight, claimsTotal, inFlight, measured, outcomeOf } from "../observability/metrics.ts"
import { AgentResources } from "../providers/AgentResources.ts"
import type { ClaimRequest, ClaimResult, OnProgress, PoolEvent } from "./Pool.ts"
import { makeBatcher } from "./batcher.ts"
import { makeClaimQueue } from "./claimQueue.ts"
import { type ClaimFields, InstanceRepo, toDatabaseError } from "./repo.ts"
import { lockOwners, type QuotaLimits, usageOf } from "./quota/sql.ts"
import { isApiOwner } from "./quota/settings.ts"
import { Replica } from "./replica.ts"
import { RuntimeClient } from "./RuntimeClient.ts"
import { checkAgentName, checkInviteUrl, checkText, limits } from "./validation.ts"

const DEFAULT_NAME = "Assistant"
const DEFAULT_INSTRUCTIONS = "You are a helpful AI assistant in a group chat. Be brief and friendly."
const noProgress: OnProgress = () => Effect.void

/**
 * What the claim needs from the pool that built it; the services (InstanceRepo, RuntimeClient, AgentResources,
 * PoolConfig, Replica, SqlClient) come from the context.
 */
interface ClaimDeps {
  readonly template: (slug: string) => Effect.Effect<Template, InvalidRequest | DatabaseError>
  /** A template's default instructions (its Notion page's text when it has one and Notion answers). */
  readonly instructionsOf: (template: Template) => Effect.Effect<string>
  readonly get: (id: string) => Effect.Effect<Instance, InstanceNotFound | DatabaseError>
  readonly publish: (e: PoolEvent) => Effect.Effect<void>
  readonly token: (id: string) => string
  /** Starts one more instance for a waiting claim; runs the tick so one that became ready is seen (claimQueue.ts). */
  readonly startOne: Effect.Effect<unknown, unknown>
  readonly nudge: Effect.Effect<unknown, unknown>
}

const resultOf = (instance: Instance, replayed: boolean): ClaimResult => ({
  instance,
  conversationId: instance.conversationId ?? "",
  inviteUrl: instance.inviteUrl,
  joined: instance.joinUrl !== null,
  replayed,
})

/**
 * claim = atomic pick (idle → claiming) + provider resources + POST /pool/provision, then claimed.
 * Any failure after the pick leaves the instance `crashed` with the reason (never back to idle: a half-provisioned
 * runtime must not be handed to someone else) and releases its provider resources.
 */
export const makeClaim = (deps: ClaimDeps) =>
  Effect.gen(function* () {
    const repo = yield* InstanceRepo
    const runtime = yield* RuntimeClient
    const resources = yield* AgentResources
    const settings = yield* PoolConfig
    const sql = yield* SqlClient.SqlClient
    // This replica's id, recorded on each claim it makes (replica.ts).
    const owner = (yield* Replica).id
    const queue = makeClaimQueue({
      sql,
      claimWait: settings.claimWait,
      counts: repo.counts,
      startOne: deps.startOne,
      nudge: deps.nudge,
    })
    const closed = () =>
      new DatabaseError({ message: "The pool is shutting down; try again in a moment.", cause: null })

    // Quotas (pool/quota): with a cap on, each pick is one transaction holding its owners' locks, and the statement
    // leaves out requests over quota (they get None, like "no idle agent"; notPicked tells them apart).
    const caps = settings.quotas
    const quotasOn = caps.agentsPerOwner > 0 || caps.apiClaimsPerHour > 0
    const hourAgo = Clock.currentTimeMillis.pipe(Effect.map((now) => new Date(now - 3_600_000)))
    const limitsNow = Effect.map(
      hourAgo,
      (since): QuotaLimits => ({ live: caps.agentsPerOwner, perHour: caps.apiClaimsPerHour, since }),
    )
    const ownerKeys = (requests: ReadonlyArray<ClaimFields>) =>
      requests.flatMap((c) => (c.hourly ? [c.claimedBy] : (c.quotaKeys ?? [])))
    const withinQuota = (requests: ReadonlyArray<ClaimFields>) =>
      limitsNow.pipe(
        Effect.flatMap((limits) =>
          sql
            .withTransaction(
              lockOwners(sql, ownerKeys(requests)).pipe(Effect.andThen(repo.claimIdleBatch(requests, limits))),
            )
            .pipe(Effect.mapError((e) => (e._tag === "DatabaseError" ? e : toDatabaseError(e)))),
        ),
      )

    /** One request alone: a key already recorded (even by a concurrent claim) is None, answered by replay. */
    const pickOne = (c: ClaimFields) =>
      (quotasOn ? withinQuota([c]).pipe(Effect.map((r) => r[0] ?? Option.none<Instance>())) : repo.claimIdle(c)).pipe(
        Effect.catch((e) => (repo.isUniqueViolation(e) ? Effect.succeedNone : Effect.fail(e))),
      )

    /** The quota this owner is at, if any (asked after a pick came back empty, to say why). */
    const overQuota = (c: ClaimFields) =>
      Effect.gen(function* () {
        if (!quotasOn) return Option.none<QuotaExceeded>()
        const { since } = yield* limitsNow
        const usage = yield* usageOf(
          sql,
          { quotaKeys: c.quotaKeys ?? [], hourly: c.hourly ?? false, claimedBy: c.claimedBy },
          since,
        )
        if (c.hourly && caps.apiClaimsPerHour > 0 && usage.hourly >= caps.apiClaimsPerHour) {
          const now = yield* Clock.currentTimeMillis
          const frees = Option.match(usage.oldest, {
            onNone: () => now + 3_600_000,
            onSome: (d) => d.getTime() + 3_600_000,
          })
          return Option.some(QuotaExceeded.hourly(caps.apiClaimsPerHour, Math.max(1, Math.ceil((frees - now) / 1000))))
        }
        if (!c.hourly && caps.agentsPerOwner > 0 && usage.live >= caps.agentsPerOwner)
          return Option.some(QuotaExceeded.live(caps.agentsPerOwner))
        return Option.none<QuotaExceeded>()
      })

    // Concurrent claims share statements (see batcher.ts). A batch that collides on a key with a concurrent
    // statement is retried request by request; a key repeated inside one batch goes alone after it.
    const pick = yield* makeBatcher(
      (requests: ReadonlyArray<ClaimFields>) =>
        Effect.gen(function* () {
          const firstOf = new Map<string, number>()
          requests.forEach((c, i) => {
            if (!firstOf.has(c.key)) firstOf.set(c.key, i)
          })
          const unique = [...firstOf.values()]
          const exits: Array<Exit.Exit<Option.Option<Instance>, DatabaseError>> = new Array(requests.length)
          const batch =
            unique.length === 1
              ? pickOne(requests[unique[0]!]!).pipe(Effect.map((o) => [o]))
              : quotasOn
                ? withinQuota(unique.map((i) => requests[i]!))
                : repo.claimIdleBatch(unique.map((i) => requests[i]!))
          const results = yield* batch.pipe(
            Effect.catch((e) =>
              repo.isUniqueViolation(e) ? Effect.forEach(unique, (i) => pickOne(requests[i]!)) : Effect.fail(e),
            ),
            Effect.exit,
          )
          unique.forEach((i, j) => {
            exits[i] = Exit.map(results, (r) => r[j]!)
          })
          for (let i = 0; i < requests.length; i++) if (!exits[i]) exits[i] = yield* Effect.exit(pickOne(requests[i]!))
          return exits
        }),
      closed,
      { maxBatch: 32, workers: 4 },
    )

    const markClaimed = yield* makeBatcher(
      (
        done: ReadonlyArray<{
          readonly id: string
          readonly conversationId: string
          readonly inviteUrl: string | null
        }>,
      ) =>
        repo.markClaimedBatch(done).pipe(
          Effect.exit,
          Effect.map((exit) => done.map((_, i) => Exit.map(exit, (rows) => rows[i]!))),
        ),
      closed,
      { maxBatch: 32, workers: 4 },
    )

    /** The same key again: wait for the first claim to finish, then return its result. */
    const replay = (key: string, instanceId: string, claimedBy: string) =>
      Effect.gen(function* () {
        const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(settings.provisionTimeout) + 5_000
        let current = yield* repo.get(instanceId)
        while (Option.isSome(current) && current.value.status === "claiming") {
          if ((yield* Clock.currentTimeMillis) > deadline) {
            return yield* new ProvisionFailed({
              instanceId,
              reason: "timeout",
              message: "That request is still being processed; ask again in a minute.",
            })
          }
          yield* Effect.sleep("100 millis")
          current = yield* repo.get(instanceId)
        }
        if (Option.isNone(current)) {
          return yield* new ProvisionFailed({
            instanceId,
            reason: "released",
            message: "The agent from that request was released already; create a new one.",
          })
        }
        const settled = current.value
        if (settled.claimedBy !== claimedBy) {
          return yield* new InvalidRequest({
            field: "key",
            message: `Idempotency key "${key}" was already used by someone else; use a new key.`,
          })
        }
        if (settled.status !== "claimed") {
          return yield* new ProvisionFailed({
            instanceId,
            reason: settled.lastError ?? settled.status,
            message: `That request already failed: ${settled.lastError ?? settled.status}. Try again with a new request.`,
          })
        }
        return resultOf(settled, true)
      })

    /**
     * No instance for this request: the same key claimed before is replayed, an owner at quota is told; otherwise a
     * claim that may wait queues for the next agent (claimQueue.ts), and one that may not hears that nothing is idle.
     */
    const notPicked = (fields: ClaimFields, req: ClaimRequest, onProgress: OnProgress) =>
      Effect.gen(function* () {
        const { key, claimedBy } = fields
        const previous = yield* repo.findClaim(key)
        if (Option.isSome(previous)) return yield* replay(key, previous.value.instanceId, claimedBy)
        const over = yield* overQuota(fields)
        if (Option.isSome(over)) {
          yield* onProgress({ step: "claim", status: "fail", message: "quota reached" })
          return yield* over.value
        }
        if (!req.wait) {
          yield* onProgress({ step: "claim", status: "fail", message: "no free agent" })
          return yield* NoAgentAvailable.create()
        }
        const waited = yield* queue.wait(claimIfIdle(fields, onProgress, false), onProgress)
        if (Option.isSome(waited)) return waited.value
        return yield* NoAgentAvailable.afterWaiting(Duration.format(settings.claimWait))
      })

    /** Provider resources + POST /pool/provision, under one POOL_PROVISION_TIMEOUT. */
    const setUp = (instance: Instance, onProgress: OnProgress) =>
      Effect.gen(function* () {
        const acquired = yield* resources
          .acquire(instance.id, onProgress)
          .pipe(Effect.withSpan("pool.provision.resources"))
        yield* onProgress({
          step: "provision",
          status: "active",
          message: "setting up your agent",
          instanceId: instance.id,
        })
        return yield* runtime
          .provision(instance.url ?? "", deps.token(instance.id), {
            agentName: instance.agentName ?? DEFAULT_NAME,
            instructions: instance.instructions ?? DEFAULT_INSTRUCTIONS,
            templateSlug: instance.templateSlug,
            joinUrl: instance.joinUrl,
            model: instance.model ?? null,
            env: acquired.env,
          })
          .pipe(Effect.withSpan("pool.provision.runtime"))
      }).pipe(
        // The claim runs uninterruptibly (it must end in a recorded state); only this part may be cut short by the
        // timeout. What acquire recorded is released by the failure path below.
        Effect.interruptible,
        Effect.timeoutOrElse({
          duration: settings.provisionTimeout,
          orElse: () => Effect.fail(SetupTimedOut.after(instance.id, Duration.format(settings.provisionTimeout))),
        }),
      )

    const provision = (instance: Instance, onProgress: OnProgress) =>
      Effect.gen(function* () {
        const result = yield* setUp(instance, onProgress)
        const claimed = yield* markClaimed({
          id: instance.id,
          conversationId: result.conversationId,
          // Joined a conversation: its link (as validated and recorded, not as sent) is the way in.
          inviteUrl: result.inviteUrl ?? instance.joinUrl ?? null,
        })
        if (Option.isNone(claimed)) return yield* ClaimSuperseded.create(instance.id)
        yield* onProgress({ step: "provision", status: "ok", message: "your agent is ready", instanceId: instance.id })
        return resultOf(claimed.value, false)
      }).pipe(
        Effect.catch((e) =>
          Effect.gen(function* () {
            if (e._tag === "DatabaseError") return yield* Effect.fail(e)
            const reason = e.message
            const moved = yield* repo.transition(
              instance.id,
              ["claiming"],
              "crashed",
              "provision-failed",
              { lastError: reason },
              reason,
            )
            if (Option.isNone(moved)) {
              // Someone else settled the row meanwhile (the tick's recovery saw the runtime finish and recorded it
              // claimed, or crashed it): never release resources of an agent that may be live. Claimed for this very
              // request is a success.
              const now = yield* repo.get(instance.id)
              if (Option.isSome(now) && now.value.status === "claimed" && now.value.claimedBy === instance.claimedBy) {
                yield* onProgress({
                  step: "provision",
                  status: "ok",
                  message: "your agent is ready",
                  instanceId: instance.id,
                })
                return resultOf(now.value, false)
              }
            } else {
              yield* resources.release(instance.id).pipe(Effect.ignore)
              yield* deps.publish({
                _tag: "InstanceCrashed",
                instanceId: instance.id,
                agentName: instance.agentName,
                reason,
                duringSetup: true,
              })
            }
            yield* onProgress({ step: "provision", status: "fail", message: reason, instanceId: instance.id })
            return yield* new ProvisionFailed({
              instanceId: instance.id,
              reason,
              message: `Setting up the agent failed: ${reason}. Nothing was charged to you; try again.`,
            })
          }),
        ),
        Effect.withSpan("pool.provision", {
          attributes: { "instance.id": instance.id, "instance.template": instance.templateSlug ?? "" },
        }),
        Effect.annotateLogs({ instanceId: instance.id }),
      )

    /** Picks an idle agent and sets it up for this request (uninterruptible once picked); None when none is idle. */
    const claimIfIdle = (fields: ClaimFields, onProgress: OnProgress, firstTry: boolean) =>
      Effect.uninterruptible(
        Effect.gen(function* () {
          let picked = yield* pick(fields)
          // Concurrent batches each lock as many idle rows as they have requests, and release the ones whose key
          // turned out to be a replay: a request can find every idle row locked for a moment although one is about
          // to be free. Before saying "no agent", try alone a few times — unless the key is a replay or nothing is idle.
          for (let attempt = 1; firstTry && Option.isNone(picked) && attempt <= 3; attempt++) {
            if (
              Option.isSome(yield* repo.findClaim(fields.key)) ||
              (yield* repo.counts).idle === 0 ||
              Option.isSome(yield* overQuota(fields))
            )
              break
            yield* Effect.sleep(Duration.millis(5 * attempt))
            picked = yield* pickOne(fields)
          }
          if (Option.isNone(picked)) return Option.none<ClaimResult>()
          const instance = picked.value
          yield* Effect.annotateCurrentSpan("instance.id", instance.id)
          yield* onProgress({
            step: "claim",
            status: "ok",
            message: `claimed instance ${instance.id.slice(0, 8)}`,
            instanceId: instance.id,
          })
          return Option.some(yield* provision(instance, onProgress))
        }),
      )

    return (req: ClaimRequest, onProgress: OnProgress = noProgress) =>
      Effect.gen(function* () {
        const key = yield* checkText("key", req.key, limits.key)
        const claimedBy = yield* checkText("claimedBy", req.claimedBy, limits.owner)
        const tpl = req.templateSlug ? yield* deps.template(req.templateSlug) : null
        const agentName = req.agentName?.trim()
          ? yield* checkAgentName("agentName", req.agentName)
          : (tpl?.name ?? DEFAULT_NAME)
        const instructions = req.instructions?.trim()
          ? yield* checkText("instructions", req.instructions, limits.instructions)
          : tpl
            ? yield* deps.instructionsOf(tpl)
            : DEFAULT_INSTRUCTIONS
        const joinUrl = req.joinUrl?.trim() ? yield* checkInviteUrl("joinUrl", req.joinUrl) : null

        // Happy path is one statement: the claim itself records the key. A key seen before is answered from the
        // first claim. Once picked, provisioning runs to the end even if the caller goes away: no claim is left
        // half-done. Claims already waiting for an agent go first (first come, first served).
        yield* onProgress({ step: "claim", status: "active", message: "finding a free agent" })
        const hourly = isApiOwner(claimedBy)
        const quotaKeys = hourly ? [] : [...new Set([claimedBy, ...(req.quotaKeys ?? [])])]
        const fields: ClaimFields = {
          key,
          claimedBy,
          agentName,
          instructions,
          templateSlug: tpl?.slug ?? null,
          model: tpl?.model ?? null,
          joinUrl,
          owner,
          quotaKeys,
          hourly,
        }
        const ahead = queue.waiting()
        const behindOthers = ahead > 0 && (req.wait || (yield* repo.counts).idle <= ahead)
        const first = behindOthers ? Option.none<ClaimResult>() : yield* claimIfIdle(fields, onProgress, true)
        if (Option.isSome(first)) return first.value
        return yield* notPicked(fields, req, onProgress)
      }).pipe(
        (claim) =>
          measured(claim, { histogram: claimDuration, counter: claimsTotal }, (exit) =>
            Exit.isSuccess(exit) ? (exit.value.replayed ? "replayed" : "claimed") : outcomeOf(exit),
          ),
        (claim) => inFlight(claimsInFlight, claim),
        Effect.withSpan("pool.claim", {
          attributes: { "claim.owner": req.claimedBy, "claim.template": req.templateSlug ?? "" },
        }),
        Effect.annotateLogs({ owner: req.claimedBy }),
      )
  })
