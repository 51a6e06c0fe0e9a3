import { Schema } from "effect"

/**
 * A claim was refused by a quota (pool/quota): `live` = the owner (a chat user, or a web visitor or their IP address)
 * already holds `limit` live agents; `hourly` = an API client label made `limit` claims in the last hour. Each edge
 * (bot, web, API) words its own reply from these fields; `message` is the generic one.
 */
export class QuotaExceeded extends Schema.TaggedError<QuotaExceeded>()("QuotaExceeded", {
  kind: Schema.Literals(["live", "hourly"]),
  limit: Schema.Number,
  /** hourly: seconds until the oldest counted claim leaves the hour window. */
  retryAfterSeconds: Schema.Number,
  message: Schema.String,
}) {
  static live = (limit: number) =>
    new QuotaExceeded({
      kind: "live",
      limit,
      retryAfterSeconds: 0,
      message: `You already have ${limit} agent${limit === 1 ? "" : "s"}, the most one person can have (AGENTS_PER_OWNER). Release one you no longer need, then try again.`,
    })
  static hourly = (limit: number, retryAfterSeconds: number) =>
    new QuotaExceeded({
      kind: "hourly",
      limit,
      retryAfterSeconds,
      message: `This API client made ${limit} claim${limit === 1 ? "" : "s"} in the last hour, its limit (API_CLAIMS_PER_HOUR). Try again in ${Math.max(1, Math.ceil(retryAfterSeconds / 60))} minute(s).`,
    })
}
