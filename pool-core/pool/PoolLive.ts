import { randomUUID } from "node:crypto"
import { Clock, Effect, Layer, Option, PubSub, Stream } from "effect"
import { SqlClient } from "effect/sql"
import { instanceToken, PoolConfig, tokenHash } from "../config.ts"
import { InstanceNotFound, InvalidRequest, ProviderError, providerFault, StaleTransition } from "../domain/errors.ts"
import type { Instance } from "../domain/instance.ts"
import { Template } from "../domain/template.ts"
import { readTemplates, syncTemplates } from "../db/templates.ts"
import { AgentResources, availableSkills } from "../providers/AgentResources.ts"
import { Compute } from "../providers/compute/Compute.ts"
import { callCosts, makeCallBudget } from "./budget.ts"
import { type OnProgress, Pool, type PoolEvent } from "./Pool.ts"
import { ProviderCircuit, ProviderCircuitLive } from "./ProviderCircuit.ts"
import { InstanceRepo, makeInstanceRepo } from "./repo.ts"
import { RuntimeClient } from "./RuntimeClient.ts"
import { makeAvatars } from "./avatar/avatars.ts"
import { makeAgentPage } from "./agentPage.ts"
import { makeClaim } from "./claim.ts"
import { makeOwnership } from "./ownership.ts"
import { makeConversations } from "./conversations.ts"
import { checkModelChoice, MODEL_PROBLEM_EVERY_MS, type ModelProblemKind } from "./models.ts"
import { makeTemplateInstructions } from "./templateInstructions.ts"
import { Replica } from "./replica.ts"
import { makeTick } from "./tick.ts"
import { makeTickLoop } from "./tickLoop.ts"
import { makeUpgrade } from "./upgrade.ts"
import { makeUpgradeLock } from "./upgradeLock.ts"
import { expireWebAgents } from "./quota/expiry.ts"
import { checkAgentName, checkCount, checkInviteUrl, checkText, limits } from "./validation.ts"

const noProgress: OnProgress = () => Effect.void

export const makePool = Effect.gen(function* () {
  const settings = yield* PoolConfig
  const compute = yield* Compute
  const runtime = yield* RuntimeClient
  const resources = yield* AgentResources
  const repo = yield* makeInstanceRepo
  const circuit = yield* ProviderCircuit
  const budget = yield* makeCallBudget(settings.providerCallsPerDay)
  const costs = callCosts(compute.name)
  const events = yield* PubSub.unbounded<PoolEvent>()
  const publish = (e: PoolEvent) => PubSub.publish(events, e).pipe(Effect.asVoid)
  yield* syncTemplates.pipe(Effect.provideService(SqlClient.SqlClient, yield* SqlClient.SqlClient))
  const sqlClient = yield* SqlClient.SqlClient
  // A template's skills as this deployment can give them: `web` only where agents can search (AgentResources.webSearch).
  const templates = readTemplates.pipe(
    Effect.provideService(SqlClient.SqlClient, sqlClient),
    Effect.map((all) =>
      all.map((t) => new Template({ ...t, skills: [...availableSkills(t.skills, resources.webSearch)] })),
    ),
  )
  const template = (slug: string) =>
    templates.pipe(
      Effect.flatMap((all) => {
        const t = all.find((x) => x.slug === slug)
        return t
          ? Effect.succeed(t)
          : Effect.fail(
              new InvalidRequest({
                field: "templateSlug",
                message: `No template "${slug}". Known templates: ${all.map((x) => x.slug).join(", ")}.`,
              }),
            )
      }),
    )

  const get = (id: string) =>
    repo
      .get(id)
      .pipe(
        Effect.flatMap(Option.match({ onNone: () => Effect.fail(InstanceNotFound.forId(id)), onSome: Effect.succeed })),
      )

  /** Owner-scoped lookup: someone else's agent looks exactly like a missing one. */
  const owned = (id: string, owner: string) =>
    get(id).pipe(
      Effect.filterOrFail(
        (i) => i.claimedBy === owner,
        () => InstanceNotFound.forId(id),
      ),
    )

  const token = (id: string) => instanceToken(settings, id)

  /**
   * Destroys an instance: provider resources, then compute, then the row; true once the row is gone. Destroy succeeds
   * only when the provider deleted it or says it does not exist; any other failure keeps it `draining` with the reason
   * (the tick tries again), and "not authorized" is reported to the circuit as a configuration fault.
   */
  const destroy = (instance: Instance, kind: string) =>
    Effect.gen(function* () {
      yield* resources
        .release(instance.id)
        .pipe(
          Effect.catch((e) =>
            repo
              .update(instance.id, { lastError: `releasing provider resources failed: ${e.message}` })
              .pipe(Effect.andThen(Effect.fail(e))),
          ),
        )
      if (instance.providerRef) {
        yield* budget.spend(costs.destroy)
        yield* compute.destroy(instance.providerRef).pipe(
          Effect.catchIf(
            (e) => providerFault(e) === "not_found",
            () => Effect.void,
          ),
          Effect.tap(() => circuit.answered(compute.name)),
          Effect.catch((e) =>
            Effect.all([
              repo.update(instance.id, { lastError: `destroy failed: ${e.message}` }),
              providerFault(e) === "unauthorized" ? circuit.refused(compute.name, e.message) : Effect.void,
            ]).pipe(Effect.andThen(Effect.fail(e))),
          ),
        )
      }
      yield* repo.remove(instance.id, kind, null)
      return true
    }).pipe(
      Effect.catchTag("ProviderError", (e) =>
        publish({ _tag: "ProviderFailing", provider: e.provider, message: e.message }).pipe(Effect.as(false)),
      ),
      Effect.uninterruptible,
    )

  /** Moves the instance to draining (guarded) and destroys it. */
  const drainAndDestroy = (id: string, from: ReadonlyArray<Instance["status"]>, kind: string) =>
    repo.transition(id, from, "draining", kind).pipe(
      Effect.flatMap(
        Option.match({
          onNone: () => Effect.succeed(Option.none<Instance>()),
          onSome: (i) => destroy(i, kind).pipe(Effect.as(Option.some(i))),
        }),
      ),
    )

  /**
   * One create, through the provider's circuit: while creates are paused it fails at once and sends nothing. A failed
   * create leaves a `dead` row with the reason (the tick destroys it) and opens the circuit, which tells ops once.
   */
  const createOne = (onProgress: OnProgress, sent: { count: number }) =>
    Effect.gen(function* () {
      yield* circuit
        .acquire(compute.name)
        .pipe(Effect.tapError((e) => onProgress({ step: "create", status: "fail", message: e.message })))
      const id = randomUUID()
      const instanceToken = token(id)
      yield* repo.insertStarting({
        id,
        provider: compute.name,
        tokenHash: tokenHash(instanceToken),
        createdAt: new Date(yield* Clock.currentTimeMillis),
      })
      yield* onProgress({
        step: "create",
        status: "active",
        message: `creating instance ${id.slice(0, 8)}`,
        instanceId: id,
      })
      sent.count++
      yield* budget.spend(costs.create)
      const handle = yield* compute.create({ instanceId: id, instanceToken, env: {} }).pipe(
        Effect.tapError((e) =>
          Effect.all([
            repo.transition(id, ["starting"], "dead", "create-failed", { lastError: e.message }, e.message),
            providerFault(e) === "unauthorized"
              ? circuit.refused(compute.name, e.message)
              : circuit.failed(compute.name, e.message, providerFault(e), null),
            // Without pauses the circuit tells ops nothing about ordinary failures: each one is an alert (rate-limited).
            circuit.pausesCreates || providerFault(e) === "unauthorized"
              ? Effect.void
              : publish({ _tag: "ProviderFailing", provider: e.provider, message: e.message }),
            onProgress({ step: "create", status: "fail", message: e.message, instanceId: id }),
          ]),
        ),
      )
      // A create that went through proves the key works: that ends a configuration fault.
      yield* circuit.answered(compute.name)
      yield* circuit.created(compute.name, id)
      yield* repo.update(id, {
        providerRef: handle.providerRef,
        providerProjectRef: handle.providerProjectRef,
        url: handle.url,
      })
      yield* onProgress({
        step: "create",
        status: "ok",
        message: `instance ${id.slice(0, 8)} is starting`,
        instanceId: id,
      })
      return yield* repo.get(id).pipe(Effect.map(Option.getOrThrow))
    }).pipe(Effect.uninterruptible)

  /**
   * n creates: the first alone, the rest (5 at a time) only once it worked, so a broken provider costs one attempt,
   * not n. The rest still pass the circuit one by one.
   */
  const createMany = (n: number, onProgress: OnProgress = noProgress) =>
    Effect.gen(function* () {
      const sent = { count: 0 }
      if (n <= 0) return { results: [], sent: 0 }
      const first = yield* Effect.result(createOne(onProgress, sent))
      const rest =
        first._tag === "Success"
          ? yield* Effect.forEach(Array.from({ length: n - 1 }), () => Effect.result(createOne(onProgress, sent)), {
              concurrency: 5,
            })
          : []
      return { results: [first, ...rest], sent: sent.count }
    })

  const replenish = (n: number, onProgress: OnProgress = noProgress) =>
    Effect.gen(function* () {
      yield* checkCount("count", n)
      const c = yield* repo.counts
      // Every row counts until it is gone: dead and draining ones may still hold provider resources.
      const live = c.total
      if (live + n > settings.maxTotal) {
        return yield* new InvalidRequest({
          field: "count",
          message: `Adding ${n} would make ${live + n} instances, over POOL_MAX_TOTAL=${settings.maxTotal}${c.dead + c.draining > 0 ? ` (${c.dead + c.draining} dead or being destroyed still count until they are gone)` : ""}. Add at most ${Math.max(0, settings.maxTotal - live)}, or raise POOL_MAX_TOTAL.`,
        })
      }
      const { results } = yield* createMany(n, onProgress)
      const created = results.flatMap((r) => (r._tag === "Success" ? [r.success] : []))
      const firstError = results.find((r) => r._tag === "Failure")
      if (created.length === 0 && firstError && firstError._tag === "Failure")
        return yield* Effect.fail(firstError.failure)
      return created
    })

  const drain = (n: number, onProgress: OnProgress = noProgress) =>
    Effect.gen(function* () {
      yield* checkCount("count", n)
      const idle = yield* repo.list({ status: ["idle"], limit: n })
      const drained = yield* Effect.forEach(
        idle,
        (i) =>
          drainAndDestroy(i.id, ["idle"], "drain").pipe(
            Effect.tap((o) =>
              Option.isSome(o)
                ? onProgress({ step: "drain", status: "ok", message: `drained ${i.id.slice(0, 8)}`, instanceId: i.id })
                : Effect.void,
            ),
          ),
        { concurrency: 5 },
      )
      return drained.flatMap((o) => (Option.isSome(o) ? [o.value] : []))
    })

  const kill = (id: string) =>
    get(id).pipe(
      Effect.flatMap((i) =>
        drainAndDestroy(id, ["starting", "idle", "claiming", "claimed", "crashed", "dead", "draining"], "kill").pipe(
          Effect.flatMap(
            Option.match({ onNone: () => Effect.fail(InstanceNotFound.forId(id)), onSome: () => Effect.succeed(i) }),
          ),
        ),
      ),
    )

  const dismiss = (id: string) =>
    get(id).pipe(
      Effect.flatMap((i) =>
        drainAndDestroy(id, ["crashed", "dead"], "dismiss").pipe(
          Effect.flatMap(
            Option.match({
              onNone: () =>
                Effect.fail(
                  new StaleTransition({
                    id,
                    expected: ["crashed", "dead"],
                    to: "draining",
                    actual: i.status,
                    message: `Instance ${id} is ${i.status}; only crashed or dead instances can be dismissed (use kill for others).`,
                  }),
                ),
              onSome: () => Effect.succeed(i),
            }),
          ),
        ),
      ),
    )

  const release = (id: string, owner: string) =>
    owned(id, owner).pipe(
      Effect.flatMap((i) =>
        drainAndDestroy(id, ["claimed", "crashed"], "release").pipe(
          Effect.flatMap(
            Option.match({ onNone: () => Effect.fail(InstanceNotFound.forId(id)), onSome: () => Effect.succeed(i) }),
          ),
        ),
      ),
    )

  const claimedOwned = (id: string, owner: string) =>
    owned(id, owner).pipe(
      Effect.filterOrFail(
        (i) => i.status === "claimed" && i.url !== null,
        (i) =>
          new InvalidRequest({
            field: "agent",
            message: `That agent is ${i.status}, not running; release it and create a new one.`,
          }),
      ),
    )

  /** Tells the running agent first, then records it: the row never claims a change the agent did not take. */
  const updateAgent = (
    id: string,
    owner: string,
    change: { readonly agentName: string } | { readonly instructions: string } | { readonly model: string | null },
  ) =>
    Effect.gen(function* () {
      const i = yield* claimedOwned(id, owner)
      // Only a change with a picture can miss conversations; none of these carries one.
      yield* runtime.update(i.url!, token(id), change).pipe(
        Effect.catchTag("AvatarNotPlaced", (e) =>
          Effect.fail(
            new ProviderError({
              provider: "runtime",
              operation: "update",
              status: 502,
              retryable: true,
              message: e.message,
            }),
          ),
        ),
      )
      yield* repo.update(id, change)
      return yield* get(id)
    })

  const rename = (id: string, owner: string, agentName: string) =>
    checkAgentName("agentName", agentName).pipe(Effect.flatMap((name) => updateAgent(id, owner, { agentName: name })))

  const instruct = (id: string, owner: string, instructions: string) =>
    checkText("instructions", instructions, limits.instructions).pipe(
      Effect.flatMap((text) => updateAgent(id, owner, { instructions: text })),
    )

  const setModel = (id: string, owner: string, model: string) =>
    checkModelChoice(settings.models, model).pipe(Effect.flatMap((m) => updateAgent(id, owner, { model: m })))

  const lastProblem = new Map<string, number>()
  const reportModelProblem = (
    id: string,
    problem: { readonly kind: ModelProblemKind; readonly model: string | null; readonly message: string },
  ) =>
    Effect.gen(function* () {
      const i = yield* get(id)
      if (i.status !== "claimed") return { notified: false }
      const now = yield* Clock.currentTimeMillis
      const key = `${id}:${problem.kind}`
      const before = lastProblem.get(key)
      if (before !== undefined && now - before < MODEL_PROBLEM_EVERY_MS) return { notified: false }
      lastProblem.set(key, now)
      yield* publish({ _tag: "ModelProblem", instanceId: id, agentName: i.agentName, ...problem })
      return { notified: true }
    })

  const join = (id: string, owner: string, inviteUrl: string) =>
    Effect.gen(function* () {
      const url = yield* checkInviteUrl("inviteUrl", inviteUrl)
      const i = yield* claimedOwned(id, owner)
      const r = yield* runtime.join(i.url!, token(id), url)
      return { joined: r.joined, pending: r.pending ?? false, conversationId: r.conversationId || null }
    })

  const rotateInvite = (id: string, owner: string) =>
    Effect.gen(function* () {
      const i = yield* claimedOwned(id, owner)
      if (i.joinUrl)
        return yield* new InvalidRequest({
          field: "agent",
          message:
            "It joined someone else's conversation, so it has no invite of its own; ask that conversation's owner.",
        })
      const r = yield* runtime.rotateInvite(i.url!, token(id))
      yield* repo.update(id, { inviteUrl: r.inviteUrl })
      return yield* get(id)
    })

  const ownership = makeOwnership({ sql: sqlClient, repo, settings, compute, runtime, token, publish, owned })
  const agentConversations = makeConversations({ sql: sqlClient, repo, runtime, token, claimedOwned })
  const upgradeLock = yield* makeUpgradeLock
  const { upgrade } = makeUpgrade({ repo, settings, compute, runtime, token, publish, lock: upgradeLock })

  // Who this pool is to the other replicas (claim ownership, the tick lock).
  const replica = yield* Replica

  const instructionsOf = yield* makeTemplateInstructions
  const claim = yield* makeClaim({
    template,
    instructionsOf,
    get,
    publish,
    token,
    startOne: Effect.suspend(() => replenish(1)),
    nudge: Effect.suspend(() => tickRun),
  }).pipe(Effect.provideService(InstanceRepo, repo))

  const tick = yield* makeTick({
    publish,
    budget,
    createMany: (n) =>
      Effect.map(createMany(n), ({ results, sent }) => ({
        attempted: sent,
        created: results.filter((r) => r._tag === "Success").length,
      })),
    reap: (id) =>
      repo
        .transition(id, ["dead"], "draining", "reap")
        .pipe(Effect.flatMap(Option.match({ onNone: () => Effect.succeed(false), onSome: (i) => destroy(i, "reap") }))),
    retryDestroy: (id) =>
      repo.get(id).pipe(
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.succeed(true),
            onSome: (i) => (i.status === "draining" ? destroy(i, "destroy-retry") : Effect.succeed(false)),
          }),
        ),
      ),
  }).pipe(Effect.provideService(InstanceRepo, repo))
  // After a tick that ran (this replica holds the tick lock): release web-launched agents past WEB_AGENT_TTL.
  const expire = expireWebAgents({ sql: sqlClient, quotas: settings.quotas, drainAndDestroy }).pipe(
    Effect.catchCause((cause) =>
      Effect.logWarning("expiring web-launched agents failed; the next tick tries again", cause),
    ),
  )
  const tickRun = yield* makeTickLoop({
    settings,
    run: tick.run.pipe(Effect.tap((report) => (report.ran ? expire : Effect.void))),
    counts: repo.counts,
    budget,
    sql: sqlClient,
    publish,
  })

  return Pool.of({
    claim,
    replenish,
    drain,
    kill,
    dismiss,
    counts: repo.counts,
    list: (filter) => repo.list(filter ?? {}),
    get,
    rename,
    instruct,
    setModel,
    reportModelProblem,
    join,
    rotateInvite,
    conversations: agentConversations.conversations,
    leave: agentConversations.leave,
    transfer: ownership.transfer,
    restart: ownership.restart,
    upgrade: (onProgress) => upgrade(onProgress ?? noProgress),
    release,
    ...makeAvatars({ sql: sqlClient, settings, runtime, token, claimedOwned }),
    tick: tickRun,
    ...makeAgentPage({ get, publish, token }),
    templates,
    template,
    events: Stream.merge(Stream.fromPubSub(events), circuit.events),
    recentEvents: (filter) => repo.recentEvents(Math.max(1, Math.floor(filter.limit)), filter.instanceId),
    targets: { minIdle: settings.minIdle, maxTotal: settings.maxTotal },
    quotas: settings.quotas,
    models: settings.models,
    // Gone only once its lock has stayed free for POOL_REPLICA_GONE_AFTER, as for the tick's claims: a live replica's
    // session blip must never let another replica answer what it is answering.
    replica: { id: replica.id, gone: (ids) => replica.gone(ids, settings.replicaGoneAfter) },
  })
})

/**
 * The pool with its own create circuit and replica; needs PoolConfig, Compute, RuntimeClient, AgentResources and the
 * database (SQL, ReplicasHere).
 */
export const PoolLive = Layer.effect(Pool, makePool).pipe(
  Layer.provide(Layer.merge(ProviderCircuitLive, Replica.layer)),
)
