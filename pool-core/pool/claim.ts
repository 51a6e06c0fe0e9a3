import { Duration, Effect, Option } from "effect"
import type { PoolSettings } from "../config.ts"
import { InstanceNotFound, InvalidRequest, NoAgentAvailable, ProvisionFailed, type DatabaseError } from "../domain/errors.ts"
import type { Instance } from "../domain/instance.ts"
import type { Template } from "../domain/template.ts"
import type { AgentResources } from "../providers/AgentResources.ts"
import type { ClaimRequest, ClaimResult, OnProgress, PoolEvent } from "./Pool.ts"
import type { InstanceRepo } from "./repo.ts"
import type { RuntimeClient } from "./RuntimeClient.ts"
import { checkInviteUrl, checkText, limits } from "./validation.ts"

const DEFAULT_NAME = "Assistant"
const DEFAULT_INSTRUCTIONS = "You are a helpful AI assistant in a group chat. Be brief and friendly."
const noProgress: OnProgress = () => Effect.void

interface ClaimDeps {
  readonly repo: InstanceRepo
  readonly runtime: RuntimeClient["Service"]
  readonly resources: AgentResources["Service"]
  readonly settings: PoolSettings
  readonly template: (slug: string) => Effect.Effect<Template, InvalidRequest | DatabaseError>
  readonly get: (id: string) => Effect.Effect<Instance, InstanceNotFound | DatabaseError>
  readonly publish: (e: PoolEvent) => Effect.Effect<void>
  readonly token: (id: string) => string
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
export const makeClaim = (deps: ClaimDeps) => {
  const { repo, runtime, resources, settings } = deps

  /** The same key again: wait for the first claim to finish, then return its result. */
  const replay = (key: string, instanceId: string, claimedBy: string) =>
    Effect.gen(function* () {
      const deadline = Date.now() + Duration.toMillis(settings.provisionTimeout) + 5_000
      let current = yield* repo.get(instanceId)
      while (Option.isSome(current) && current.value.status === "claiming") {
        if (Date.now() > deadline) {
          return yield* new ProvisionFailed({ instanceId, reason: "timeout", message: "That request is still being processed; ask again in a minute." })
        }
        yield* Effect.sleep("100 millis")
        current = yield* repo.get(instanceId)
      }
      if (Option.isNone(current)) {
        return yield* new ProvisionFailed({ instanceId, reason: "released", message: "The agent from that request was released already; create a new one." })
      }
      const settled = current.value
      if (settled.claimedBy !== claimedBy) {
        return yield* new InvalidRequest({ field: "key", message: `Idempotency key "${key}" was already used by someone else; use a new key.` })
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

  const provision = (instance: Instance, req: ClaimRequest, onProgress: OnProgress) =>
    Effect.gen(function* () {
      const acquired = yield* resources.acquire(instance.id, onProgress)
      yield* onProgress({ step: "provision", status: "active", message: "setting up your agent", instanceId: instance.id })
      const result = yield* runtime
        .provision(instance.url ?? "", deps.token(instance.id), {
          agentName: instance.agentName ?? DEFAULT_NAME,
          instructions: instance.instructions ?? DEFAULT_INSTRUCTIONS,
          templateSlug: instance.templateSlug,
          joinUrl: instance.joinUrl,
          env: acquired.env,
        })
        .pipe(
          Effect.timeoutOrElse({
            duration: settings.provisionTimeout,
            orElse: () => Effect.fail({ message: `the agent did not finish setting up within ${Duration.format(settings.provisionTimeout)}` }),
          })
        )
      const claimed = yield* repo.transition(instance.id, ["claiming"], "claimed", "provisioned", {
        conversationId: result.conversationId,
        inviteUrl: result.inviteUrl ?? req.joinUrl ?? null,
        claimedAt: new Date(),
        lastError: null,
      })
      if (Option.isNone(claimed)) return yield* Effect.fail({ message: "the instance changed state while it was being set up" })
      yield* onProgress({ step: "provision", status: "ok", message: "your agent is ready", instanceId: instance.id })
      return resultOf(claimed.value, false)
    }).pipe(
      Effect.catch((e: { readonly message: string; readonly _tag?: string }) =>
        Effect.gen(function* () {
          if (e._tag === "DatabaseError") return yield* Effect.fail(e as DatabaseError)
          const reason = e.message
          yield* repo.transition(instance.id, ["claiming"], "crashed", "provision-failed", { lastError: reason }, reason)
          yield* resources.release(instance.id).pipe(Effect.ignore)
          yield* deps.publish({ _tag: "InstanceCrashed", instanceId: instance.id, agentName: instance.agentName, reason })
          yield* onProgress({ step: "provision", status: "fail", message: reason, instanceId: instance.id })
          return yield* new ProvisionFailed({
            instanceId: instance.id,
            reason,
            message: `Setting up the agent failed: ${reason}. Nothing was charged to you; try again.`,
          })
        })
      )
    )

  return (req: ClaimRequest, onProgress: OnProgress = noProgress) =>
    Effect.gen(function* () {
      const key = yield* checkText("key", req.key, limits.key)
      const claimedBy = yield* checkText("claimedBy", req.claimedBy, limits.owner)
      const tpl = req.templateSlug ? yield* deps.template(req.templateSlug) : null
      const agentName = req.agentName?.trim() ? yield* checkText("agentName", req.agentName, limits.agentName) : (tpl?.name ?? DEFAULT_NAME)
      const instructions = req.instructions?.trim()
        ? yield* checkText("instructions", req.instructions, limits.instructions)
        : (tpl?.instructions ?? DEFAULT_INSTRUCTIONS)
      const joinUrl = req.joinUrl?.trim() ? yield* checkInviteUrl("joinUrl", req.joinUrl) : null

      // Happy path is one statement: the claim itself records the key. A key seen before fails on the claims primary
      // key (the statement rolls back, nothing is taken) and is answered from the first claim.
      yield* onProgress({ step: "claim", status: "active", message: "finding a free agent" })
      const picked = yield* repo
        .claimIdle({ key, claimedBy, agentName, instructions, templateSlug: tpl?.slug ?? null, joinUrl })
        .pipe(Effect.map(Option.some), Effect.catch((e) => (repo.isUniqueViolation(e) ? Effect.succeed(Option.none<Option.Option<Instance>>()) : Effect.fail(e))))
      if (Option.isNone(picked) || Option.isNone(picked.value)) {
        const previous = yield* repo.findClaim(key)
        if (Option.isSome(previous)) return yield* replay(key, previous.value.instanceId, claimedBy)
        yield* onProgress({ step: "claim", status: "fail", message: "no free agent" })
        return yield* NoAgentAvailable.create()
      }
      const instance = picked.value.value
      yield* onProgress({ step: "claim", status: "ok", message: `claimed instance ${instance.id.slice(0, 8)}`, instanceId: instance.id })
      // Once picked, provisioning runs to the end even if the caller goes away: no claim is left half-done.
      return yield* Effect.uninterruptible(provision(instance, req, onProgress))
    })
}
