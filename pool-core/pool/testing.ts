import { Context, Duration, Effect, Layer } from "effect"
import { poolConfigLayer, type PoolSettings } from "../config.ts"
import { TestDatabase } from "../db/testing.ts"
import { ProviderError } from "../domain/errors.ts"
import { AgentResources, AgentResourcesNone } from "../providers/AgentResources.ts"
import { Compute, type ComputeState, type ComputeStatus } from "../providers/compute/Compute.ts"
import { PoolLive } from "./PoolLive.ts"
import { type ProvisionRequest, RuntimeClient } from "./RuntimeClient.ts"

// In-memory compute + runtime for tests and benchmarks: a "cloud" whose instances become running after a delay,
// whose runtimes answer /pool/health and /pool/provision, and which can be told to fail or stall a share of calls.
// Everything it did is recorded so tests can assert on it (creates, destroys, provisions).

export interface MemoryCloudOptions {
  /** Time from create until the instance runs and reports ready. */
  readonly readyAfter?: Duration.Input
  /** Share (0–1) of compute calls that fail with a retryable provider error. */
  readonly failRate?: number
  /** Share (0–1) of compute calls that hang until `stallFor`. */
  readonly stallRate?: number
  readonly stallFor?: Duration.Input
  /** Max refs per statusBatch call, to model a provider answering in batches. */
  readonly batchSize?: number
  readonly provisionDelay?: Duration.Input
  readonly random?: () => number
}

interface MemoryInstance {
  readonly instanceId: string
  readonly ref: string
  readonly createdAt: number
  state: ComputeState
  provisioned: ProvisionRequest | null
  conversationId: string | null
  inviteUrl: string | null
}

export class MemoryCloud extends Context.Service<MemoryCloud, {
  readonly instances: Map<string, MemoryInstance>
  readonly stats: { creates: number; destroys: number; statusCalls: number; provisions: number; failures: number; destroyedTwice: number }
  /** Makes the provider report the instance as failed/gone (e.g. a crash). */
  readonly setState: (ref: string, state: ComputeState) => void
  /** The next n provisions fail with this message. */
  readonly failProvisions: (n: number, message: string) => void
  readonly setFailRate: (rate: number) => void
}>()("pool-core/pool/testing/MemoryCloud") {}

export const memoryCloudLayer = (options: MemoryCloudOptions = {}) =>
  Layer.effectContext(
    Effect.sync(() => {
      const random = options.random ?? Math.random
      const readyAfterMs = Duration.toMillis(Duration.fromInputUnsafe(options.readyAfter ?? 0))
      const instances = new Map<string, MemoryInstance>()
      const destroyed = new Set<string>()
      const stats = { creates: 0, destroys: 0, statusCalls: 0, provisions: 0, failures: 0, destroyedTwice: 0 }
      let failRate = options.failRate ?? 0
      let provisionFailures: { n: number; message: string } = { n: 0, message: "" }

      const faulty = <A>(operation: string, effect: Effect.Effect<A, ProviderError>) =>
        Effect.suspend(() => {
          const roll = random()
          if (roll < failRate) {
            stats.failures++
            return Effect.fail(new ProviderError({ provider: "memory", operation, status: 503, retryable: true, message: `memory compute: injected failure of ${operation}` }))
          }
          if (roll < failRate + (options.stallRate ?? 0)) {
            return Effect.sleep(Duration.fromInputUnsafe(options.stallFor ?? "1 second")).pipe(
              Effect.andThen(Effect.fail(new ProviderError({ provider: "memory", operation, status: null, retryable: true, message: `memory compute: ${operation} timed out` })))
            )
          }
          return effect
        })

      const stateOf = (i: MemoryInstance): ComputeState =>
        i.state === "starting" && Date.now() - i.createdAt >= readyAfterMs ? ((i.state = "running"), "running") : i.state
      const byUrl = (url: string) => instances.get(url.replace("memory://", "mem-"))

      const compute = Compute.of({
        name: "memory",
        create: (spec) =>
          faulty(
            "create",
            Effect.sync(() => {
              stats.creates++
              const ref = `mem-${spec.instanceId}`
              instances.set(ref, { instanceId: spec.instanceId, ref, createdAt: Date.now(), state: "starting", provisioned: null, conversationId: null, inviteUrl: null })
              return { providerRef: ref, providerProjectRef: "memory-project", url: `memory://${spec.instanceId}` }
            })
          ),
        destroy: (ref) =>
          faulty(
            "destroy",
            Effect.sync(() => {
              if (destroyed.has(ref)) stats.destroyedTwice++
              destroyed.add(ref)
              stats.destroys++
              instances.delete(ref)
            })
          ),
        statusBatch: (refs) =>
          faulty(
            "status",
            Effect.sync(() => {
              const size = options.batchSize ?? 500
              stats.statusCalls += Math.max(1, Math.ceil(refs.length / size))
              const out = new Map<string, ComputeStatus>()
              for (const { providerRef } of refs) {
                const i = instances.get(providerRef)
                out.set(providerRef, i ? { providerRef, state: stateOf(i), url: `memory://${i.instanceId}` } : { providerRef, state: "gone", url: null })
              }
              return out
            })
          ),
      })

      const unreachable = (operation: string, url: string) =>
        new ProviderError({ provider: "runtime", operation, status: null, retryable: true, message: `The agent instance at ${url} did not answer ${operation}.` })

      const runtime = RuntimeClient.of({
        health: (url) =>
          Effect.suspend(() => {
            const i = byUrl(url)
            if (!i || stateOf(i) !== "running") return Effect.fail(unreachable("health", url))
            return Effect.succeed({ ready: true, version: "memory", conversationId: i.conversationId, inviteUrl: i.inviteUrl })
          }),
        provision: (url, _token, body) =>
          Effect.sleep(Duration.fromInputUnsafe(options.provisionDelay ?? 0)).pipe(
            Effect.andThen(
              Effect.suspend(() => {
                const i = byUrl(url)
                if (!i || stateOf(i) !== "running") return Effect.fail(unreachable("provision", url))
                if (provisionFailures.n > 0) {
                  provisionFailures.n--
                  return Effect.fail(new ProviderError({ provider: "runtime", operation: "provision", status: 500, retryable: false, message: provisionFailures.message }))
                }
                if (i.provisioned) return Effect.fail(new ProviderError({ provider: "runtime", operation: "provision", status: 409, retryable: false, message: "already provisioned" }))
                stats.provisions++
                i.provisioned = body
                i.conversationId = `conv-${i.instanceId.replace(/-/g, "")}`
                i.inviteUrl = body.joinUrl ?? `https://dev.convos.org/v2?i=memory-${i.instanceId}`
                return Effect.succeed({ conversationId: i.conversationId, inviteUrl: body.joinUrl ? null : i.inviteUrl, joined: Boolean(body.joinUrl), pending: false })
              })
            )
          ),
        update: (url) => (byUrl(url) ? Effect.void : Effect.fail(unreachable("update", url))),
        join: (url, _token, inviteUrl) =>
          Effect.suspend(() => {
            const i = byUrl(url)
            if (!i) return Effect.fail(unreachable("join", url))
            return Effect.succeed({ conversationId: `conv-joined-${inviteUrl.length}`, inviteUrl: null, joined: true, pending: false })
          }),
      })

      const cloud = MemoryCloud.of({
        instances,
        stats,
        setState: (ref, state) => {
          const i = instances.get(ref)
          if (i) i.state = state
        },
        failProvisions: (n, message) => {
          provisionFailures = { n, message }
        },
        setFailRate: (rate) => {
          failRate = rate
        },
      })
      return Context.make(Compute, compute).pipe(Context.add(RuntimeClient, runtime), Context.add(MemoryCloud, cloud))
    })
  )

export interface PoolTestOptions {
  readonly settings?: Partial<PoolSettings>
  readonly cloud?: MemoryCloudOptions
  /** Defaults to no provider resources. */
  readonly resources?: Layer.Layer<AgentResources>
}

/** PoolLive over the in-memory cloud and a private test database; also exposes MemoryCloud and SqlClient. */
export const PoolTest = (options: PoolTestOptions = {}) =>
  PoolLive.pipe(
    Layer.provideMerge(memoryCloudLayer(options.cloud)),
    Layer.provideMerge(options.resources ?? AgentResourcesNone),
    Layer.provideMerge(poolConfigLayer(options.settings)),
    Layer.provideMerge(TestDatabase)
  )
