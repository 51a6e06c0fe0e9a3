import { Clock, Config, Effect } from "effect"
import { SqlClient } from "effect/sql"
import { InvalidConfig, ProviderError } from "../../domain/errors.ts"
import { DailyLimitReached } from "./errors.ts"

// Per-agent daily limits, counted in the database (agent_service_usage) so a restart, a second replica or a redeploy
// never resets them. A message is counted before the provider is called, in one guarded upsert, so concurrent
// requests can never together pass the limit; if the provider surely did not send it, the count is given back.
// Days are UTC; the limit resets at the next UTC midnight.

export type Service = "email" | "sms"

export interface DailyLimits {
  readonly email: number
  readonly sms: number
}

const limit = (variable: string, fallback: number) =>
  Config.Int(variable).pipe(
    Config.withDefault(fallback),
    Effect.mapError(
      (e) =>
        new InvalidConfig({
          variable,
          message: `${variable} must be a whole number ≥ 0 (messages per agent per UTC day): ${e.message}`,
        }),
    ),
    Effect.filterOrFail(
      (n) => n >= 0,
      (n) =>
        new InvalidConfig({
          variable,
          message: `${variable} must be ≥ 0 (got ${n}); 0 turns the service off for agents.`,
        }),
    ),
  )

/** AGENT_EMAILS_PER_DAY (default 50) and AGENT_SMS_PER_DAY (default 20). */
export const dailyLimitsConfig: Effect.Effect<DailyLimits, InvalidConfig> = Effect.all({
  email: limit("AGENT_EMAILS_PER_DAY", 50),
  sms: limit("AGENT_SMS_PER_DAY", 20),
})

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10)
const nextMidnight = (ms: number) => {
  const d = new Date(ms)
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1)).toISOString()
}

const dbError = (operation: string) => (cause: unknown) =>
  new ProviderError({
    provider: "database",
    operation,
    status: null,
    retryable: true,
    message: `Could not ${operation} (database error); try again shortly. ${String(cause)}`,
  })

export const makeUsage = (limits: DailyLimits) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const noun = (s: Service) => (s === "email" ? "emails" : "text messages")

    /** Counts one message; fails with DailyLimitReached when the day's limit is used up. Returns the day counted. */
    const take = (instanceId: string, service: Service) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const max = limits[service]
        const day = dayOf(now)
        const refused = () =>
          new DailyLimitReached({
            service,
            limit: max,
            resetAt: nextMidnight(now),
            message:
              max === 0
                ? `This agent may not send ${noun(service)}: the pool allows 0 per day. Tell the person it cannot be done here.`
                : `This agent has sent its ${max} ${noun(service)} for today; the limit resets at ${nextMidnight(now)} (UTC midnight). Tell the person and try again after that.`,
          })
        if (max <= 0) return yield* refused()
        const rows = yield* sql<{ count: number }>`
          INSERT INTO agent_service_usage (instance_id, service, day, count) VALUES (${instanceId}, ${service}, ${day}, 1)
          ON CONFLICT (instance_id, service, day) DO UPDATE SET count = agent_service_usage.count + 1
          WHERE agent_service_usage.count < ${max}
          RETURNING count`.pipe(Effect.mapError(dbError("count the message")))
        if (rows.length === 0) return yield* refused()
        return day
      })

    /** Gives a counted message back (the provider surely did not send it). */
    const giveBack = (instanceId: string, service: Service, day: string) =>
      sql`UPDATE agent_service_usage SET count = count - 1 WHERE instance_id = ${instanceId} AND service = ${service} AND day = ${day} AND count > 0`.pipe(
        Effect.asVoid,
        Effect.catch((e) =>
          Effect.logWarning(`agent services: could not give back a ${service} count of ${instanceId}: ${String(e)}`),
        ),
      )

    return { take, giveBack, limits }
  })
