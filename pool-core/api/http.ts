import { Cause, Effect, Exit, type ManagedRuntime, Option } from "effect"
import type { Context as HonoContext } from "hono"

/** Runs an Effect for a request; client disconnects interrupt it. */
export type Run = <A, E>(effect: Effect.Effect<A, E, any>, signal?: AbortSignal) => Promise<Exit.Exit<A, E>>

export const runnerOf =
  (runtime: ManagedRuntime.ManagedRuntime<any, any>): Run =>
  (effect, signal) =>
    runtime.runPromiseExit(effect, signal ? { signal } : undefined)

export interface ApiErrorBody {
  readonly error: string
  readonly field?: string
  readonly reason?: string
}

/** Tagged domain errors → HTTP status + JSON that says what to do. */
export const errorResponse = (c: HonoContext, error: unknown) => {
  const e = error as { _tag?: string; message?: string; field?: string }
  const body = (status: number, extra: Partial<ApiErrorBody> = {}) =>
    c.json({ error: e.message ?? "Request failed.", ...extra } satisfies ApiErrorBody, status as 400)
  switch (e?._tag) {
    case "InvalidRequest":
      return body(400, { field: e.field, reason: e.message })
    case "InstanceNotFound":
      return body(404)
    case "NoAgentAvailable":
    case "StaleTransition":
    case "ResourceConflict":
    case "UpgradeRefused":
      return body(409)
    case "NotConfigured":
      return body(503)
    case "QuotaExceeded": {
      const retry = (e as { retryAfterSeconds?: number }).retryAfterSeconds ?? 0
      if (retry > 0) c.header("Retry-After", String(retry))
      return body(429)
    }
    case "ProvisionFailed":
    case "ProviderError":
      return body(502)
    case "DatabaseError":
      return c.json({ error: "The database is not answering; try again shortly." }, 503)
    default:
      return c.json({ error: "Internal error; the operators have the details in the logs." }, 500)
  }
}

/** Success → JSON (or `onSuccess`), failure → mapped error, interruption (client gone) → 499. */
export const respond = async <A, E>(
  c: HonoContext,
  exit: Promise<Exit.Exit<A, E>>,
  onSuccess: (a: A) => Response = (a) => c.json(a as object),
) => {
  const result = await exit
  if (Exit.isSuccess(result)) return onSuccess(result.value)
  if (Cause.hasInterruptsOnly(result.cause)) return new Response(null, { status: 499 })
  const failure = Cause.findErrorOption(result.cause)
  if (Option.isNone(failure)) console.error(Cause.pretty(result.cause))
  return errorResponse(c, Option.getOrUndefined(failure))
}
