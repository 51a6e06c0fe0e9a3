import { Context, Duration, Effect, Layer, Option, Redacted, Schedule, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { NotConfigured, ProviderError } from "../../domain/errors.ts"
import { resourcePrefix } from "../environment.ts"
import { optionalSecret, providerEnvironment, readConfig, stringOr } from "../http/env.ts"
import { makeProviderHttp, mayHaveHappened, type ProviderHttpOptions } from "../http/ProviderHttp.ts"

// One US phone number per agent. Numbers cost money monthly and take time to order, so the pool keeps the ones it
// bought in `phone_numbers` and reuses a free one first; release only marks it available again (never deleted at
// Telnyx). Assignment is one guarded UPDATE (SKIP LOCKED), so two concurrent claims never get the same number.
//
// Buying is not idempotent, so it is done in an order that can neither buy twice nor lose a number:
// 1. the picked number is written to `phone_numbers` (assigned to the instance) BEFORE the order: if the database
//    cannot record it, nothing is bought; and a number that is ordered is always in the table;
// 2. the order carries `customer_reference = convos-<environment>-agent-<instanceId>`; it is never retried blindly: after a
//    timeout, a 5xx or an unreadable answer the pool lists the number orders with that reference, and only when none
//    holds the number does it order again;
// 3. a refused order (409/422 taken meanwhile, other 4xx) removes the reservation again.
// A number sends and receives SMS only once it is assigned to the messaging profile. The order names the profile, but
// Telnyx does not guarantee the assignment, so every number is PATCHed to it (/phone_numbers/{n}/messaging) before an
// agent gets it: a new one after its order (404 is retried while the order propagates) and a pooled one again (the
// same PATCH twice is one change; a number bought before this, or whose assignment failed, gets fixed on reuse).
// The agent gets no Telnyx key (Telnyx has no per-number keys, and the org key can buy numbers and text from any of
// them): it sends through the pool's service API, which checks the number is its own and applies the daily limit,
// then calls `sendSms` here with the org key, from the agent's number and the messaging profile.

const Available = Schema.Struct({ data: Schema.Array(Schema.Struct({ phone_number: Schema.String })) })
// Telnyx's NumberOrder does not promise `phone_numbers` in every answer (an order listed before its numbers are
// attached has none): read it as optional, and an order without numbers holds none of ours.
const OrderedNumbers = Schema.optional(Schema.NullOr(Schema.Array(Schema.Struct({ phone_number: Schema.String }))))
const Order = Schema.Struct({ data: Schema.Struct({ phone_numbers: OrderedNumbers }) })
const SentMessage = Schema.Struct({ data: Schema.Struct({ id: Schema.String }) })
const Orders = Schema.Struct({
  data: Schema.Array(
    Schema.Struct({ status: Schema.optional(Schema.NullOr(Schema.String)), phone_numbers: OrderedNumbers }),
  ),
})

/** The number order's customer_reference: `convos-<environment>-agent-<instanceId>`. */
export const orderReference = (environment: string, instanceId: string) =>
  `${resourcePrefix(environment)}agent-${instanceId}`

export class Telnyx extends Context.Service<
  Telnyx,
  {
    readonly configured: boolean
    /** Assigns a number to the instance: a pooled one, else a newly ordered one. */
    readonly acquire: (instanceId: string) => Effect.Effect<string, ProviderError | NotConfigured>
    /** Returns every number held by the instance to the pool; returns how many. */
    readonly release: (instanceId: string) => Effect.Effect<number, ProviderError>
    readonly counts: Effect.Effect<{ readonly available: number; readonly assigned: number }, ProviderError>
    /** Sends an SMS from one of the pool's numbers; answers Telnyx's message id. Not retried after a timeout/5xx. */
    readonly sendSms: (from: string, to: string, text: string) => Effect.Effect<string, ProviderError | NotConfigured>
  }
>()("pool-core/providers/telnyx/Telnyx") {}

export interface TelnyxSettings {
  readonly apiKey: Redacted.Redacted<string>
  /** POOL_ENVIRONMENT: in every number order's customer_reference. */
  readonly environment: string
  readonly baseUrl: string
  readonly messagingProfileId: string
  readonly http?: Partial<ProviderHttpOptions>
  readonly random?: () => number
  /** Waits between tries of the messaging-profile assignment while a new number's order propagates (default 2 s · n, 5 tries). */
  readonly assignBackoff?: Duration.Input
}

const dbError = (operation: string) => (cause: unknown) =>
  new ProviderError({
    provider: "telnyx",
    operation,
    status: null,
    retryable: true,
    message: `telnyx ${operation}: database error: ${String(cause)}`,
  })

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
        RETURNING phone_number`.pipe(
        Effect.map((rows) => rows[0]?.phoneNumber ?? null),
        Effect.mapError(dbError("assign pooled number")),
      ),
    /** Reserves a number about to be ordered; false when the table already has it (someone else is buying it). */
    reserve: (phone: string, instanceId: string) =>
      sql<{
        phoneNumber: string
      }>`INSERT INTO phone_numbers (phone_number, status, instance_id) VALUES (${phone}, 'assigned', ${instanceId})
          ON CONFLICT (phone_number) DO NOTHING RETURNING phone_number`.pipe(
        Effect.map((rows) => rows.length === 1),
        Effect.mapError(dbError("reserve number")),
      ),
    /** Drops a reservation whose order did not happen. */
    unreserve: (phone: string, instanceId: string) =>
      sql`DELETE FROM phone_numbers WHERE phone_number = ${phone} AND instance_id = ${instanceId}`.pipe(
        Effect.asVoid,
        Effect.mapError(dbError("drop number reservation")),
      ),
    /** The order gave a different number than reserved (not expected, but then the table must hold the real one). */
    replace: (reserved: string, ordered: string, instanceId: string) =>
      sql`UPDATE phone_numbers SET phone_number = ${ordered}, updated_at = now() WHERE phone_number = ${reserved} AND instance_id = ${instanceId}`.pipe(
        Effect.asVoid,
        Effect.mapError(dbError("record ordered number")),
      ),
    release: (instanceId: string) =>
      sql<{ phoneNumber: string }>`
        UPDATE phone_numbers SET status = 'available', instance_id = NULL, updated_at = now()
        WHERE instance_id = ${instanceId} AND status = 'assigned' RETURNING phone_number`.pipe(
        Effect.map((rows) => rows.length),
        Effect.mapError(dbError("release number")),
      ),
    counts: sql<{
      status: string
      n: number
    }>`SELECT status, count(*)::int AS n FROM phone_numbers GROUP BY status`.pipe(
      Effect.map((rows) => ({
        available: rows.find((r) => r.status === "available")?.n ?? 0,
        assigned: rows.find((r) => r.status === "assigned")?.n ?? 0,
      })),
      Effect.mapError(dbError("count numbers")),
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
          // filter[features] is an array parameter (repeated for more than one feature), not filter[features][]
          path: "available_phone_numbers?filter[country_code]=US&filter[features]=sms&filter[limit]=20",
        },
        Available,
      )
      const dropReservation = (phone: string, instanceId: string) =>
        Effect.retry(table.unreserve(phone, instanceId), {
          schedule: Schedule.exponential("100 millis"),
          times: 3,
        }).pipe(
          Effect.catch((e) => Effect.logWarning(`telnyx: could not drop the reservation of ${phone}: ${e.message}`)),
        )
      /** Whether an order with the instance's reference already holds `phone` (after an answer that was lost). */
      const alreadyOrdered = (instanceId: string, phone: string) =>
        http
          .json(
            {
              operation: "look up number order",
              method: "GET",
              path: `number_orders?filter[customer_reference]=${encodeURIComponent(orderReference(settings.environment, instanceId))}`,
            },
            Orders,
          )
          .pipe(
            Effect.map((r) =>
              r.data.some(
                (o) => o.status !== "failure" && (o.phone_numbers ?? []).some((n) => n.phone_number === phone),
              ),
            ),
          )

      // A new number is unknown to /phone_numbers until its order has propagated: 404 then means "not yet".
      const assignStep = Duration.fromInputUnsafe(settings.assignBackoff ?? "2 seconds")
      const assignSchedule = Schedule.spaced(assignStep).pipe(
        Schedule.setInputType<ProviderError>(),
        Schedule.modifyDelay(({ attempt }) => Effect.succeed(Duration.times(assignStep, attempt))), // 2 s, 4 s, 6 s …
        Schedule.while(({ input, attempt }) => input.status === 404 && attempt <= 5),
      )
      /** Assigns the number to the messaging profile (idempotent: the same profile set twice is one change). */
      const assignToProfile = (phone: string) =>
        http
          .request({
            operation: "assign number to messaging profile",
            method: "PATCH",
            path: `phone_numbers/${encodeURIComponent(phone)}/messaging`,
            body: { messaging_profile_id: settings.messagingProfileId },
            idempotent: true,
          })
          .pipe(
            Effect.retry(assignSchedule),
            Effect.asVoid,
            Effect.mapError((e) =>
              e.status === 404
                ? new ProviderError({
                    ...e,
                    message: `${e.message} — Telnyx does not know ${phone} yet (a new number's order may still be propagating); the number stays recorded, its release returns it to the pool and its next use assigns it again. Try the claim again.`,
                  })
                : e,
            ),
          )

      // Another buyer may take the number between search and order (409/422): search again, a few times.
      const orderOne = (instanceId: string, attempt: number): Effect.Effect<string, ProviderError> =>
        Effect.gen(function* () {
          const found = (yield* search).data
          if (found.length === 0) {
            return yield* new ProviderError({
              provider: "telnyx",
              operation: "search numbers",
              status: 200,
              retryable: true,
              message: "telnyx has no US SMS numbers available right now; try again later.",
            })
          }
          const pick = found[Math.floor(random() * found.length)]!.phone_number
          if (!(yield* table.reserve(pick, instanceId))) {
            if (attempt < 3) return yield* orderOne(instanceId, attempt + 1)
            return yield* new ProviderError({
              provider: "telnyx",
              operation: "order number",
              status: null,
              retryable: true,
              message: `telnyx: ${pick} is already being bought by another claim; try again.`,
            })
          }
          const order = yield* Effect.result(
            http.json(
              {
                operation: "order number",
                method: "POST",
                path: "number_orders",
                body: {
                  phone_numbers: [{ phone_number: pick }],
                  messaging_profile_id: settings.messagingProfileId,
                  customer_reference: orderReference(settings.environment, instanceId),
                },
              },
              Order,
            ),
          )
          if (order._tag === "Success") {
            const ordered = order.success.data.phone_numbers?.[0]?.phone_number ?? pick
            if (ordered !== pick) yield* table.replace(pick, ordered, instanceId)
            return ordered
          }
          const e = order.failure
          if (mayHaveHappened(e) || /unexpected shape|not JSON/.test(e.message)) {
            // The order may have gone through: ask Telnyx before doing anything else. If it cannot tell, keep the
            // reservation (the number may be ours, recorded for this instance so release finds it) and fail.
            const done = yield* alreadyOrdered(instanceId, pick).pipe(Effect.mapError(() => e))
            if (done) return pick
            yield* dropReservation(pick, instanceId)
            if (attempt < 3) return yield* orderOne(instanceId, attempt + 1)
            return yield* Effect.fail(e)
          }
          yield* dropReservation(pick, instanceId)
          if ((e.status === 409 || e.status === 422) && attempt < 3) return yield* orderOne(instanceId, attempt + 1)
          return yield* Effect.fail(e)
        })

      return Telnyx.of({
        configured: true,
        acquire: (instanceId) =>
          Effect.gen(function* () {
            const phone = (yield* table.takePooled(instanceId)) ?? (yield* orderOne(instanceId, 1))
            yield* assignToProfile(phone)
            return phone
          }),
        release: table.release,
        counts: table.counts,
        sendSms: (from, to, text) =>
          http
            .json(
              {
                operation: "send message",
                method: "POST",
                path: "messages",
                body: { from, to, text, messaging_profile_id: settings.messagingProfileId },
              },
              SentMessage,
            )
            .pipe(Effect.map((r) => r.data.id)),
      })
    }),
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
      sendSms: () => Effect.fail(NotConfigured.create("Telnyx", "TELNYX_API_KEY and TELNYX_MESSAGING_PROFILE_ID")),
    })
  }),
)

/** Live when TELNYX_API_KEY and TELNYX_MESSAGING_PROFILE_ID are set, disabled otherwise. */
export const telnyxLayerFromEnv = Layer.unwrap(
  Effect.gen(function* () {
    const key = yield* readConfig(optionalSecret("TELNYX_API_KEY"))
    const profile = yield* readConfig(stringOr("TELNYX_MESSAGING_PROFILE_ID", ""))
    if (Option.isNone(key) || profile === "") return telnyxDisabled
    const baseUrl = yield* readConfig(stringOr("TELNYX_BASE_URL", "https://api.telnyx.com/v2"))
    const environment = yield* providerEnvironment
    return telnyxLive({ apiKey: key.value, environment, baseUrl, messagingProfileId: profile })
  }),
)
