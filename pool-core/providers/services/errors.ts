import { Schema } from "effect"

// The agent service API's own refusals (each maps to one HTTP status in api/routes/agentServices.ts). Messages are
// read by an agent (and relayed to people): they say what happened and what to do.

/** 404: this agent holds no inbox / number / wallet. */
export class ServiceNotHeld extends Schema.TaggedError<ServiceNotHeld>()("ServiceNotHeld", {
  service: Schema.String,
  message: Schema.String,
}) {}

/** 403: the request names an inbox or number that is not this agent's own. */
export class NotYourResource extends Schema.TaggedError<NotYourResource>()("NotYourResource", {
  service: Schema.String,
  message: Schema.String,
}) {}

/** 429: the agent's daily limit for the service is used up until `resetAt` (UTC midnight). */
export class DailyLimitReached extends Schema.TaggedError<DailyLimitReached>()("DailyLimitReached", {
  service: Schema.String,
  limit: Schema.Int,
  resetAt: Schema.String,
  message: Schema.String,
}) {}
