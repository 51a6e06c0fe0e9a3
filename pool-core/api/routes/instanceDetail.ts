import { Effect, Option, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { type Instance, InstanceEvent } from "../../domain/instance.ts"
import { Pool } from "../../pool/Pool.ts"
import { AgentResources, type HeldResource } from "../../providers/AgentResources.ts"
import { Compute } from "../../providers/compute/Compute.ts"
import { OpenRouter } from "../../providers/openrouter/OpenRouter.ts"
import { type SpendLookup, spendOf } from "../../providers/resources/spend.ts"

// Everything the admin instance page shows about one instance (adminInstance.tsx), read in one go: the row, its
// events (the audit survives the row, so a destroyed instance still has a timeline), what it holds at the providers,
// recent resource errors, its OpenRouter spend against the cap, and the tail of its runtime log from the compute
// provider. Each part that can fail on its own (a provider, the log) is shown as unavailable with the reason instead
// of failing the page.

/** How much of the runtime log the page shows. */
export const LOG_TAIL_BYTES = 16_000
/** The newest events shown. */
export const EVENTS_SHOWN = 100

export type LogTail =
  | { readonly available: true; readonly text: string }
  | { readonly available: false; readonly reason: string }

export interface ResourceErrorRow {
  readonly provider: string
  readonly operation: string
  readonly message: string
  readonly createdAt: Date
}

export interface InstanceDetail {
  /** null: the row is gone (destroyed or dismissed); its events remain. */
  readonly instance: Instance | null
  /** Newest first. */
  readonly events: ReadonlyArray<InstanceEvent>
  /** What it holds, or why that could not be read. */
  readonly resources: ReadonlyArray<HeldResource> | string
  readonly resourceErrors: ReadonlyArray<ResourceErrorRow>
  readonly spend: SpendLookup
  /** Most one top-up may add (USD); null when OpenRouter is not configured. */
  readonly topUpMax: number | null
  readonly log: LogTail
}

const decodeEvents = Schema.decodeUnknownEffect(Schema.Array(InstanceEvent))
const ResourceErrorRows = Schema.Array(
  Schema.Struct({ provider: Schema.String, operation: Schema.String, message: Schema.String, createdAt: Schema.Date }),
)
const decodeResourceErrors = Schema.decodeUnknownEffect(ResourceErrorRows)

/** Where to read an agent's log when the compute provider does not give it to the pool. */
const elsewhere: Record<string, string> = {
  railway: "read it in the Railway dashboard (the agent's service → Deployments → Logs)",
}

const logTailOf = (instance: Instance | null): Effect.Effect<LogTail> =>
  Effect.gen(function* () {
    if (instance === null) return { available: false, reason: "the instance is gone, and its log with it" }
    if (instance.providerRef === null)
      return { available: false, reason: "the compute provider has not started it yet" }
    const compute = yield* Effect.serviceOption(Compute)
    if (Option.isNone(compute) || compute.value.name !== instance.provider)
      return { available: false, reason: `this server does not run ${instance.provider} compute` }
    const tail = compute.value.logTail
    if (!tail)
      return {
        available: false,
        reason: `${instance.provider} compute does not give agents' logs to the pool; ${elsewhere[instance.provider] ?? "use the provider's own log viewer"}`,
      }
    return yield* tail(instance.providerRef, LOG_TAIL_BYTES).pipe(
      Effect.map((text): LogTail => ({ available: true, text })),
      Effect.catch((e) => Effect.succeed<LogTail>({ available: false, reason: e.message })),
    )
  })

export const loadInstanceDetail = (id: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const instance = yield* Effect.flatMap(Pool, (p) => p.get(id)).pipe(
      Effect.map((i): Instance | null => i),
      Effect.catchTag("InstanceNotFound", () => Effect.succeed(null)),
    )
    const resources = yield* Effect.serviceOption(AgentResources)
    const openRouter = yield* Effect.serviceOption(OpenRouter)
    const [events, resourceErrors, held, spend, log] = yield* Effect.all(
      [
        sql`SELECT id::int AS id, instance_id, from_status, to_status, kind, detail, created_at FROM events
            WHERE instance_id = ${id} ORDER BY id DESC LIMIT ${EVENTS_SHOWN}`.pipe(Effect.flatMap(decodeEvents)),
        sql`SELECT provider, operation, message, created_at FROM resource_errors
            WHERE instance_id = ${id} ORDER BY id DESC LIMIT 5`.pipe(Effect.flatMap(decodeResourceErrors)),
        Option.isNone(resources)
          ? Effect.succeed<ReadonlyArray<HeldResource> | string>([])
          : resources.value
              .held(id)
              .pipe(
                Effect.catch((e) =>
                  Effect.succeed<ReadonlyArray<HeldResource> | string>(`could not be read: ${e.message}`),
                ),
              ),
        instance === null ? Effect.succeed<SpendLookup>(null) : Effect.map(spendOf([id]), (m) => m.get(id) ?? null),
        logTailOf(instance),
      ],
      { concurrency: "unbounded" },
    )
    const topUpMax = Option.isSome(openRouter) && openRouter.value.configured ? openRouter.value.topUpMax : null
    return { instance, events, resources: held, resourceErrors, spend, topUpMax, log } satisfies InstanceDetail
  })
