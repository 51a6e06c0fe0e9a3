import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { NotConfigured, ProviderError } from "../../domain/errors.ts"
import { optionalSecret, readConfig, stringOr } from "../http/env.ts"
import { makeProviderHttp, type ProviderHttpOptions } from "../http/ProviderHttp.ts"

// One US phone number per agent. Numbers cost money monthly and take time to order, so the pool keeps the ones it
// bought in `phone_numbers` and reuses a free one first; release only marks it available again (never deleted at
// Telnyx). Assignment is one guarded UPDATE (SKIP LOCKED), so two concurrent claims never get the same number.

const Available = Schema.Struct({ data: Schema.Array(Schema.Struct({ phone_number: Schema.String })) })
const Order = Schema.Struct({ data: Schema.Struct({ phone_numbers: Schema.Array(Schema.Struct({ phone_number: Schema.String })) }) })

export class Telnyx extends Context.Service<Telnyx, {
  readonly configured: boolean
  /** Assigns a number to the instance: a pooled one, else a newly ordered one. */
  readonly acquire: (instanceId: string) => Effect.Effect<string, ProviderError | NotConfigured>
  /** Returns every number held by the instance to the pool; returns how many. */
  readonly release: (instanceId: string) => Effect.Effect<number, ProviderError>
  readonly counts: Effect.Effect<{ readonly available: number; readonly assigned: number }, ProviderError>
}>()("pool-core/providers/telnyx/Telnyx") {}

export interface TelnyxSettings {
  readonly apiKey: Redacted.Redacted<string>
  readonly baseUrl: string
  readonly messagingProfileId: string
  readonly http?: Partial<ProviderHttpOptions>
  readonly random?: () => number
}

const dbError = (operation: string) => (cause: unknown) =>
  new ProviderError({ provider: "telnyx", operation, status: null, retryable: true, message: `telnyx ${operation}: database error: ${String(cause)}` })

/** The table part, shared by the live and disabled layers (releasing must work even after the key is removed). */
const numberTable = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return {
    takePooled: (instanceId: string) =>
      sql<{ phoneNumber: string }>`
        UPDATE phone_numbers SET status = 'assigned', instance_id = ${instanceId}, updated_at = now()
        WHERE phone_number = (
          SELECT phone_number FROM phone_numbers WHERE status = 'available' ORDER BY updated_at LIMIT 1 FOR UPDATE SKIP LOCKED
        ) AND status = 'available'
        RETURNING phone_number`.pipe(Effect.map((rows) => rows[0]?.phoneNumber ?? null), Effect.mapError(dbError("assign pooled number"))),
    recordOrdered: (phone: string, instanceId: string) =>
      sql`INSERT INTO phone_numbers (phone_number, status, instance_id) VALUES (${phone}, 'assigned', ${instanceId})`.pipe(
        Effect.asVoid,
        Effect.mapError(dbError("record ordered number"))
      ),
    release: (instanceId: string) =>
      sql<{ phoneNumber: string }>`
        UPDATE phone_numbers SET status = 'available', instance_id = NULL, updated_at = now()
        WHERE instance_id = ${instanceId} AND status = 'assigned' RETURNING phone_number`.pipe(
        Effect.map((rows) => rows.length),
        Effect.mapError(dbError("release number"))
      ),
    counts: sql<{ status: string; n: number }>`SELECT status, count(*)::int AS n FROM phone_numbers GROUP BY status`.pipe(
      Effect.map((rows) => ({
        available: rows.find((r) => r.status === "available")?.n ?? 0,
        assigned: rows.find((r) => r.status === "assigned")?.n ?? 0,
      })),
      Effect.mapError(dbError("count numbers"))
    ),
  }
})

export const telnyxLive = (settings: TelnyxSettings) =>
  Layer.effect(
    Telnyx,
    Effect.gen(function* () {
      const table = yield* numberTable
      const random = settings.random ?? Math.random
      const http = makeProviderHttp({
        provider: "telnyx",
        baseUrl: settings.baseUrl,
        headers: { authorization: Redacted.make(`Bearer ${Redacted.value(settings.apiKey)}`) },
        ...settings.http,
      })
      const search = http.json(
        {
          operation: "search numbers",
          method: "GET",
          path: "available_phone_numbers?filter[country_code]=US&filter[features][]=sms&filter[limit]=20",
        },
        Available
      )
      // Another buyer may take the number between search and order (409/422): search again, a few times.
      const orderOne = (attempt: number): Effect.Effect<string, ProviderError> =>
        Effect.gen(function* () {
          const found = (yield* search).data
          if (found.length === 0) {
            return yield* new ProviderError({ provider: "telnyx", operation: "search numbers", status: 200, retryable: true, message: "telnyx has no US SMS numbers available right now; try again later." })
          }
          const pick = found[Math.floor(random() * found.length)]!.phone_number
          const order = yield* http
            .json(
              { operation: "order number", method: "POST", path: "number_orders", body: { phone_numbers: [{ phone_number: pick }], messaging_profile_id: settings.messagingProfileId } },
              Order
            )
            .pipe(
              Effect.catchIf(
                (e) => (e.status === 409 || e.status === 422) && attempt < 3,
                () => Effect.succeed(null)
              )
            )
          if (order === null) return yield* orderOne(attempt + 1)
          return order.data.phone_numbers[0]?.phone_number ?? pick
        })

      return Telnyx.of({
        configured: true,
        acquire: (instanceId) =>
          Effect.gen(function* () {
            const pooled = yield* table.takePooled(instanceId)
            if (pooled !== null) return pooled
            const ordered = yield* orderOne(1)
            yield* table.recordOrdered(ordered, instanceId)
            return ordered
          }),
        release: table.release,
        counts: table.counts,
      })
    })
  )

export const telnyxDisabled = Layer.effect(
  Telnyx,
  Effect.gen(function* () {
    const table = yield* numberTable
    return Telnyx.of({
      configured: false,
      acquire: () => Effect.fail(NotConfigured.create("Telnyx", "TELNYX_API_KEY and TELNYX_MESSAGING_PROFILE_ID")),
      release: table.release,
      counts: table.counts,
    })
  })
)

/** Live when TELNYX_API_KEY and TELNYX_MESSAGING_PROFILE_ID are set, disabled otherwise. */
export const telnyxLayerFromEnv = Layer.unwrap(
  Effect.gen(function* () {
    const key = yield* readConfig(optionalSecret("TELNYX_API_KEY"))
    const profile = yield* readConfig(stringOr("TELNYX_MESSAGING_PROFILE_ID", ""))
    if (Option.isNone(key) || profile === "") return telnyxDisabled
    const baseUrl = yield* readConfig(stringOr("TELNYX_BASE_URL", "https://api.telnyx.com/v2"))
    return telnyxLive({ apiKey: key.value, baseUrl, messagingProfileId: profile })
  })
)
