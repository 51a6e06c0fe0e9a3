import { Context, Duration, Effect, Exit, Layer, Scope } from "effect"
import { PoolConfig, poolConfigLayer, type PoolSettings } from "../config.ts"
import { TestDatabase } from "../db/testing.ts"
import { ProviderError } from "../domain/errors.ts"
import { AgentResources, AgentResourcesNone } from "../providers/AgentResources.ts"
import { Compute, type ComputeState, type ComputeStatus } from "../providers/compute/Compute.ts"
import { makePool } from "./PoolLive.ts"
import { Pool as PoolTag } from "./Pool.ts"
import { ProviderCircuitLive } from "./ProviderCircuit.ts"
import { makeReplica, Replica } from "./replica.ts"
import { type AgentUpdate, type ProvisionRequest, RuntimeClient } from "./RuntimeClient.ts"

// In-memory compute + runtime for tests and benchmarks: a "cloud" whose instances become running after a delay,
// whose runtimes answer /pool/health and /pool/provision, and which can be told to fail or stall a share of calls.
// Everything it did is recorded so tests can assert on it (creates per instance, destroys, status requests, health
// checks, provisions): figures are counted where the call arrives, never computed.

export interface MemoryCloudOptions {
  /** Time from create until the instance runs and reports ready. */
  readonly readyAfter?: Duration.Input
  /** Share (0–1) of compute calls that fail with a retryable provider error. */
  readonly failRate?: number
  /** Share (0–1) of compute calls that hang until `stallFor`. */
  readonly stallRate?: number
  readonly stallFor?: Duration.Input
  /** Max refs one status request may ask about (a provider that answers in batches); more fails the request. */
  readonly batchSize?: number
  /** Time each status request takes (e.g. to make ticks overlap). */
  readonly statusDelay?: Duration.Input
  readonly provisionDelay?: Duration.Input
  readonly random?: () => number
  /** How long an instance started again (Compute.restart / upgrade) takes until it runs and answers again. */
  readonly restartTakes?: Duration.Input
  /** The provider name the pool sees (its call costs: "railway" makes the tick plan with Railway's request counts). */
  readonly name?: "memory" | "railway"
}

interface MemoryInstance {
  readonly instanceId: string
  readonly ref: string
  readonly createdAt: number
  state: ComputeState
  /** What the provider says about that state (an exit code, a build error), when it says anything. */
  detail?: string | undefined
  provisioned: ProvisionRequest | null
  /** Every PATCH /pool/agent body this instance took (rename, instructions, model), oldest first. */
  updates?: Array<AgentUpdate>
  conversationId: string | null
  inviteUrl: string | null
  /** Conversations it joined (POST /convos/join), after its own. */
  joined?: Array<string>
  /** What the instance "printed" (create, provision), for the admin page's log tail. */
  log?: Array<string>
  /** After a restart: not running until this time (Date.now()). */
  restartedUntil?: number
  /** How many times it was started again (Compute.restart / upgrade) on its state. */
  restarts?: number
}

const memoryConversations = (i: MemoryInstance): ReadonlyArray<string> => [
  ...(i.conversationId ? [i.conversationId] : []),
  ...(i.joined ?? []),
]

export class MemoryCloud extends Context.Service<
  MemoryCloud,
  {
    readonly instances: Map<string, MemoryInstance>
    readonly stats: MemoryStats
    /** How many times each instance id was created at the provider (a retry that creates again shows as 2). */
    readonly createsPerInstance: ReadonlyMap<string, number>
    /** Makes the provider report the instance as failed/gone (e.g. a crash), with its detail if given. */
    readonly setState: (ref: string, state: ComputeState, detail?: string) => void
    /** The next n provisions fail with this message. */
    readonly failProvisions: (n: number, message: string) => void
    readonly setFailRate: (rate: number) => void
    /** Every compute call fails with this HTTP status (401: not authorized, 503: unavailable); null: back to normal. */
    readonly failAll: (status: number | null) => void
    /** The next restarts of this instance fail with this message (a runtime that does not start on the new version). */
    readonly failRestartsOf: (ref: string, message: string) => void
  }
>()("pool-core/pool/testing/MemoryCloud") {}

export interface MemoryStats {
  creates: number
  destroys: number
  /** Status requests received (each at most `batchSize` refs). */
  statusCalls: number
  /** Refs asked about, over all status requests. */
  statusRefs: number
  healthCalls: number
  provisions: number
  failures: number
  destroyedTwice: number
  /** Compute.restart calls received. */
  restarts: number
}

let rotations = 0
const randomTagOf = () => `r${++rotations}`

export const memoryCloudLayer = (options: MemoryCloudOptions = {}) =>
  Layer.effectContext(
    Effect.sync(() => {
      const random = options.random ?? Math.random
      const readyAfterMs = Duration.toMillis(Duration.fromInputUnsafe(options.readyAfter ?? 0))
      const instances = new Map<string, MemoryInstance>()
      const destroyed = new Set<string>()
      const stats: MemoryStats = {
        creates: 0,
        destroys: 0,
        statusCalls: 0,
        statusRefs: 0,
        healthCalls: 0,
        provisions: 0,
        failures: 0,
        destroyedTwice: 0,
        restarts: 0,
      }
      const createsPerInstance = new Map<string, number>()
      const batchSize = options.batchSize ?? 500
      let failRate = options.failRate ?? 0
      let provisionFailures: { n: number; message: string } = { n: 0, message: "" }
      let failAllStatus: number | null = null
      const restartFailures = new Map<string, string>()
      const restartTakesMs = Duration.toMillis(Duration.fromInputUnsafe(options.restartTakes ?? 0))

      const faulty = <A>(operation: string, effect: Effect.Effect<A, ProviderError>) =>
        Effect.suspend(() => {
          if (operation === "status") stats.statusCalls++
          if (failAllStatus !== null) {
            stats.failures++
            const text = failAllStatus === 401 ? "Not Authorized" : `HTTP ${failAllStatus}`
            return Effect.fail(
              new ProviderError({
                provider: "memory",
                operation,
                status: failAllStatus,
                retryable: failAllStatus >= 500,
                message: `memory compute: ${operation} refused: ${text}`,
              }),
            )
          }
          const roll = random()
          if (roll < failRate) {
            stats.failures++
            return Effect.fail(
              new ProviderError({
                provider: "memory",
                operation,
                status: 503,
                retryable: true,
                message: `memory compute: injected failure of ${operation}`,
              }),
            )
          }
          if (roll < failRate + (options.stallRate ?? 0)) {
            return Effect.sleep(Duration.fromInputUnsafe(options.stallFor ?? "1 second")).pipe(
              Effect.andThen(
                Effect.fail(
                  new ProviderError({
                    provider: "memory",
                    operation,
                    status: null,
                    retryable: true,
                    message: `memory compute: ${operation} timed out`,
                  }),
                ),
              ),
            )
          }
          return effect
        })

      const stateOf = (i: MemoryInstance): ComputeState => {
        if (i.state === "starting" && Date.now() - i.createdAt >= readyAfterMs && Date.now() >= (i.restartedUntil ?? 0))
          i.state = "running"
        return i.state
      }
      const byUrl = (url: string) => instances.get(url.replace("memory://", "mem-"))

      const compute = Compute.of({
        name: options.name ?? "memory",
        create: (spec) =>
          faulty(
            "create",
            Effect.sync(() => {
              stats.creates++
              createsPerInstance.set(spec.instanceId, (createsPerInstance.get(spec.instanceId) ?? 0) + 1)
              const ref = `mem-${spec.instanceId}`
              instances.set(ref, {
                instanceId: spec.instanceId,
                ref,
                createdAt: Date.now(),
                state: "starting",
                provisioned: null,
                updates: [],
                conversationId: null,
                inviteUrl: null,
                log: [`[memory] runtime ${spec.instanceId} starting`],
              })
              return { providerRef: ref, providerProjectRef: "memory-project", url: `memory://${spec.instanceId}` }
            }),
          ),
        destroy: (ref) =>
          faulty(
            "destroy",
            Effect.suspend(() => {
              if (destroyed.has(ref)) stats.destroyedTwice++
              destroyed.add(ref)
              stats.destroys++
              // Like a real API: deleting what does not exist is a 404 (the pool counts that as destroyed).
              if (!instances.delete(ref))
                return Effect.fail(
                  new ProviderError({
                    provider: "memory",
                    operation: "destroy",
                    status: 404,
                    retryable: false,
                    message: `memory compute: no instance ${ref}`,
                  }),
                )
              return Effect.void
            }),
          ),
        // Like a real restart: the same instance (its provisioned agent and conversation kept) runs again.
        restart: (ref) =>
          faulty(
            "restart",
            Effect.suspend(() => {
              stats.restarts++
              const i = instances.get(ref)
              const failure = restartFailures.get(ref)
              if (!i || failure !== undefined)
                return Effect.fail(
                  new ProviderError({
                    provider: "memory",
                    operation: "restart",
                    status: i ? 500 : 404,
                    retryable: false,
                    message: failure ?? `memory compute: no instance ${ref}`,
                  }),
                )
              i.restarts = (i.restarts ?? 0) + 1
              // Down for `restartTakes` (its health does not answer), then running again on the same state.
              i.restartedUntil = Date.now() + restartTakesMs
              i.state = restartTakesMs > 0 ? "starting" : "running"
              return Effect.succeed({
                providerRef: ref,
                providerProjectRef: "memory-project",
                url: `memory://${i.instanceId}`,
              })
            }),
          ),
        // The upgrade is a restart on the same state here too (what the tests look at is the order and the state kept).
        upgrade: (ref) => compute.restart!(ref),
        statusBatch: (refs) =>
          faulty(
            "status",
            Effect.suspend(() => {
              if (refs.length > batchSize) {
                return Effect.fail(
                  new ProviderError({
                    provider: "memory",
                    operation: "status",
                    status: 400,
                    retryable: false,
                    message: `memory compute: a status request takes at most ${batchSize} refs (got ${refs.length})`,
                  }),
                )
              }
              stats.statusRefs += refs.length
              return Effect.succeed(refs)
            }).pipe(
              Effect.delay(Duration.fromInputUnsafe(options.statusDelay ?? 0)),
              Effect.map((asked) => {
                const out = new Map<string, ComputeStatus>()
                for (const { providerRef } of asked) {
                  const i = instances.get(providerRef)
                  out.set(
                    providerRef,
                    i
                      ? {
                          providerRef,
                          state: stateOf(i),
                          url: `memory://${i.instanceId}`,
                          ...(i.detail ? { detail: i.detail } : {}),
                        }
                      : { providerRef, state: "gone", url: null },
                  )
                }
                return out
              }),
            ),
          ),
        logTail: (ref, maxBytes) =>
          Effect.suspend(() => {
            const i = instances.get(ref)
            if (!i)
              return Effect.fail(
                new ProviderError({
                  provider: "memory",
                  operation: "logs",
                  status: 404,
                  retryable: false,
                  message: `memory compute: no instance ${ref}`,
                }),
              )
            return Effect.succeed(`${(i.log ?? []).join("\n")}\n`.slice(-maxBytes))
          }),
      })

      const unreachable = (operation: string, url: string) =>
        new ProviderError({
          provider: "runtime",
          operation,
          status: null,
          retryable: true,
          message: `The agent instance at ${url} did not answer ${operation}.`,
        })

      const runtime = RuntimeClient.of({
        health: (url, token) =>
          Effect.suspend(() => {
            stats.healthCalls++
            const i = byUrl(url)
            if (!i || stateOf(i) !== "running") return Effect.fail(unreachable("health", url))
            // Like the runtime: the conversation and invite only for the holder of a token.
            return Effect.succeed(
              token
                ? { ready: true, version: "memory", conversationId: i.conversationId, inviteUrl: i.inviteUrl }
                : { ready: true, version: "memory" },
            )
          }),
        provision: (url, _token, body) =>
          Effect.sleep(Duration.fromInputUnsafe(options.provisionDelay ?? 0)).pipe(
            Effect.andThen(
              Effect.suspend(() => {
                const i = byUrl(url)
                if (!i || stateOf(i) !== "running") return Effect.fail(unreachable("provision", url))
                if (provisionFailures.n > 0) {
                  provisionFailures.n--
                  return Effect.fail(
                    new ProviderError({
                      provider: "runtime",
                      operation: "provision",
                      status: 500,
                      retryable: false,
                      message: provisionFailures.message,
                    }),
                  )
                }
                if (i.provisioned)
                  return Effect.fail(
                    new ProviderError({
                      provider: "runtime",
                      operation: "provision",
                      status: 409,
                      retryable: false,
                      message: "already provisioned",
                    }),
                  )
                stats.provisions++
                ;(i.log ??= []).push(`[memory] provisioned as "${body.agentName}"`)
                i.provisioned = body
                i.conversationId = `conv-${i.instanceId.replace(/-/g, "")}`
                i.inviteUrl = body.joinUrl ?? `https://dev.convos.org/v2?i=memory-${i.instanceId}`
                return Effect.succeed({
                  conversationId: i.conversationId,
                  inviteUrl: body.joinUrl ? null : i.inviteUrl,
                  joined: Boolean(body.joinUrl),
                  pending: false,
                })
              }),
            ),
          ),
        update: (url, _token, body) =>
          Effect.suspend(() => {
            const i = byUrl(url)
            if (!i) return Effect.fail(unreachable("update", url))
            ;(i.updates ??= []).push(body)
            return Effect.void
          }),
        // Like the runtime: a new invite for the agent's own conversation (none for one that joined another).
        rotateInvite: (url) =>
          Effect.suspend(() => {
            const i = byUrl(url)
            if (!i || stateOf(i) !== "running") return Effect.fail(unreachable("invite", url))
            if (!i.conversationId || i.provisioned?.joinUrl)
              return Effect.fail(
                new ProviderError({
                  provider: "runtime",
                  operation: "invite",
                  status: 409,
                  retryable: false,
                  message: "This agent has no invite of its own: it joined someone else's conversation.",
                }),
              )
            i.inviteUrl = `https://dev.convos.org/v2?i=memory-${i.instanceId}-${randomTagOf()}`
            return Effect.succeed({ inviteUrl: i.inviteUrl })
          }),
        join: (url, _token, inviteUrl) =>
          Effect.suspend(() => {
            const i = byUrl(url)
            if (!i) return Effect.fail(unreachable("join", url))
            ;(i.joined ??= []).push(`conv-joined-${inviteUrl.length}`)
            return Effect.succeed({
              conversationId: `conv-joined-${inviteUrl.length}`,
              inviteUrl: null,
              joined: true,
              pending: false,
            })
          }),
        // Like the runtime: its own conversation first, then the ones it joined; leaving one it is not in is a 404.
        conversations: (url) =>
          Effect.suspend(() => {
            const i = byUrl(url)
            if (!i || stateOf(i) !== "running") return Effect.fail(unreachable("conversations", url))
            return Effect.succeed(memoryConversations(i).map((id) => ({ id, name: null })))
          }),
        leave: (url, _token, conversationId) =>
          Effect.suspend(() => {
            const i = byUrl(url)
            if (!i || stateOf(i) !== "running") return Effect.fail(unreachable("leave", url))
            if (!memoryConversations(i).includes(conversationId))
              return Effect.fail(
                new ProviderError({
                  provider: "runtime",
                  operation: "leave",
                  status: 404,
                  retryable: false,
                  message: `The agent instance refused leave (HTTP 404): The agent is not in conversation ${conversationId}.`,
                }),
              )
            if (i.conversationId === conversationId) {
              i.conversationId = null
              i.inviteUrl = null
            }
            i.joined = (i.joined ?? []).filter((id) => id !== conversationId)
            return Effect.void
          }),
      })

      const cloud = MemoryCloud.of({
        instances,
        stats,
        createsPerInstance,
        setState: (ref, state, detail) => {
          const i = instances.get(ref)
          if (!i) return
          i.state = state
          i.detail = detail
        },
        failProvisions: (n, message) => {
          provisionFailures = { n, message }
        },
        setFailRate: (rate) => {
          failRate = rate
        },
        failAll: (status) => {
          failAllStatus = status
        },
        failRestartsOf: (ref, message) => {
          restartFailures.set(ref, message)
        },
      })
      return Context.make(Compute, compute).pipe(Context.add(RuntimeClient, runtime), Context.add(MemoryCloud, cloud))
    }),
  )

export interface PoolTestOptions {
  readonly settings?: Partial<PoolSettings>
  readonly cloud?: MemoryCloudOptions
  /** Defaults to no provider resources. */
  readonly resources?: Layer.Layer<AgentResources>
  /** Defaults to TestDatabase (Postgres when a URL is set, else PGlite); see testDatabaseOn. */
  readonly database?: typeof TestDatabase
}

/** PoolLive over the in-memory cloud and a private test database; also exposes MemoryCloud, ProviderCircuit and SqlClient. */
export const PoolTest = (options: PoolTestOptions = {}) =>
  Layer.effect(PoolTag, makePool).pipe(
    Layer.provideMerge(Layer.merge(ProviderCircuitLive, Replica.layer)),
    Layer.provideMerge(memoryCloudLayer(options.cloud)),
    Layer.provideMerge(options.resources ?? AgentResourcesNone),
    Layer.provideMerge(poolConfigLayer(options.settings)),
    Layer.provideMerge(options.database ?? TestDatabase),
  )

/** One process's create circuits, for a pool started with startPool outside PoolTest (e.g. over the bot's test layer). */
export { ProviderCircuitLive }

/**
 * Another pool on the same database, cloud and runtime (a second replica, or a restart), with its own settings or
 * resources; it lives until `close`. Needs what PoolTest provides.
 */
export const startPool = (
  overrides: { readonly settings?: Partial<PoolSettings>; readonly resources?: AgentResources["Service"] } = {},
) =>
  Effect.gen(function* () {
    const base = yield* PoolConfig
    const resources = overrides.resources ?? (yield* AgentResources)
    const scope = yield* Scope.make()
    const pool: PoolTag["Service"] = yield* makePool.pipe(
      Effect.provideService(PoolConfig, { ...base, ...overrides.settings }),
      Effect.provideService(AgentResources, resources),
      Effect.provideServiceEffect(Replica, makeReplica),
      Scope.provide(scope),
    )
    return { pool, close: Scope.close(scope, Exit.void) }
  })
