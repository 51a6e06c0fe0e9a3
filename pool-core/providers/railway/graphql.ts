import { Duration, Effect, Redacted, Schema } from "effect"
import { ProviderError, type ProviderFault } from "../../domain/errors.ts"
import { makeProviderHttp, type ProviderHttp, type ProviderHttpOptions } from "../http/ProviderHttp.ts"
import { callKind, makeTokenPool, type Cooldowns } from "./tokens.ts"

// Railway's public API is GraphQL over one POST endpoint. HTTP errors (429/5xx) are retried by ProviderHttp. GraphQL
// `errors` inside a 200 are classified here (contract 1, ProviderError.fault), because the status says nothing:
// - "Not Authorized" / "Project token not found": unauthorized (a configuration fault; never "gone");
// - Railway's throttling wording: throttled, waited out on the token pool (./tokens.ts), then retried;
// - "… not found": not_found (the only answer that may mark something gone);
// - anything else: rejected.
// Everything is a POST, so idempotency is per operation: queries are (retried on timeout/5xx), mutations are not
// unless the caller says so (deletes, the environment patch); creates look up by name before trying again.

export const THROTTLED = /only one project can be created|creating volumes too quickly|rate limit|too many requests/i
const UNAUTHORIZED =
  /not authorized|unauthorized|forbidden|project token not found|invalid token|two factor authentication required/i
const NOT_FOUND = /not found|does not exist/i

/** What a GraphQL error message from Railway means for the pool. */
export const faultOfMessage = (message: string): ProviderFault =>
  UNAUTHORIZED.test(message)
    ? "unauthorized"
    : THROTTLED.test(message)
      ? "throttled"
      : NOT_FOUND.test(message)
        ? "not_found"
        : "rejected"

/** The worst fault among several errors of one answer: unauthorized wins, then throttled, not_found, rejected. */
export const faultOfMessages = (messages: ReadonlyArray<string>): ProviderFault => {
  const faults = messages.map(faultOfMessage)
  return (["unauthorized", "throttled", "rejected", "not_found"] as const).find((f) => faults.includes(f)) ?? "rejected"
}

export const isNotFound = (e: ProviderError) => e.fault === "not_found" || (e.fault === undefined && e.status === 404)

const Answer = Schema.Struct({
  data: Schema.optional(Schema.NullOr(Schema.Unknown)),
  errors: Schema.optional(
    Schema.Array(
      Schema.Struct({
        message: Schema.String,
        path: Schema.optional(Schema.NullOr(Schema.Array(Schema.Union([Schema.String, Schema.Number])))),
      }),
    ),
  ),
})

const isQuery = (query: string) => /^\s*query\b/.test(query)

export interface RailwayApiOptions {
  /** The token (account, team/workspace, or project token). */
  readonly token: Redacted.Redacted<string>
  /** More account/team tokens (RAILWAY_API_TOKENS): a pool, each with its own throttling cooldown. */
  readonly tokens?: ReadonlyArray<Redacted.Redacted<string>>
  /** "project" sends the token as Project-Access-Token (Railway refuses project tokens as Bearer). */
  readonly tokenKind?: "account" | "project"
  readonly url: string
  readonly http?: Partial<ProviderHttpOptions>
  readonly cooldowns?: Cooldowns
  /** Longest a call waits for throttling in all (default 3 minutes); then it fails with fault "throttled". */
  readonly maxThrottleWait?: Duration.Input
}

export interface GraphqlError {
  readonly message: string
  readonly path: ReadonlyArray<string | number> | null
}

export const makeRailwayApi = (options: RailwayApiOptions) => {
  const all = [options.token, ...(options.tokens ?? [])]
  const tokens = all.filter((t, i) => all.findIndex((u) => Redacted.value(u) === Redacted.value(t)) === i)
  const clients: Array<ProviderHttp> = tokens.map((token) =>
    makeProviderHttp({
      provider: "railway",
      baseUrl: options.url,
      headers:
        options.tokenKind === "project"
          ? { "project-access-token": token }
          : { authorization: Redacted.make(`Bearer ${Redacted.value(token)}`) },
      ...options.http,
    }),
  )
  const pool = makeTokenPool(tokens.length, options.cooldowns)
  const maxWaitMs = Duration.toMillis(Duration.fromInputUnsafe(options.maxThrottleWait ?? "3 minutes"))
  const redact = (text: string) => clients.reduce((t, c) => c.redact(t), text)
  const which = (index: number) => (tokens.length > 1 ? ` (token ${index + 1} of ${tokens.length})` : "")

  const post = (
    client: ProviderHttp,
    operation: string,
    query: string,
    variables: Record<string, unknown>,
    idempotent: boolean,
  ) => client.json({ operation, method: "POST", path: "", body: { query, variables }, idempotent }, Answer)

  const errorOf = (operation: string, messages: ReadonlyArray<string>, index: number) => {
    const fault = faultOfMessages(messages)
    const hint =
      fault === "unauthorized"
        ? ` Railway refused the token${which(index)}: check that it is valid and may act on this workspace/project (RAILWAY_API_TOKEN, RAILWAY_API_TOKENS or RAILWAY_TOKEN).`
        : ""
    return new ProviderError({
      provider: "railway",
      operation,
      status: 200,
      retryable: fault === "throttled",
      fault,
      message: redact(`railway ${operation} failed: ${messages.join("; ")}.${hint}`),
    })
  }

  /**
   * Runs one query/mutation and decodes `data` with `schema`. Throttling errors are waited out on the token pool
   * (another token at once if one is free) up to maxThrottleWait; other GraphQL errors fail with their fault.
   */
  const query = <S extends Schema.Top>(
    operation: string,
    text: string,
    variables: Record<string, unknown>,
    schema: S,
    opts: { readonly idempotent?: boolean } = {},
  ): Effect.Effect<S["Type"], ProviderError> =>
    Effect.gen(function* () {
      const kind = callKind(text)
      let waited = 0
      for (let attempt = 1; ; attempt++) {
        const slot = yield* pool.reserve(kind)
        if (slot.waitMs > 0) {
          if (waited + slot.waitMs > maxWaitMs) {
            return yield* new ProviderError({
              provider: "railway",
              operation,
              status: 200,
              retryable: true,
              fault: "throttled",
              message: `railway ${operation} is throttled: every token is cooling down for ${Math.ceil(slot.waitMs / 1000)} s more; try again later or add tokens of other users to RAILWAY_API_TOKENS.`,
            })
          }
          yield* Effect.logInfo(
            `railway: ${operation} waits ${Math.ceil(slot.waitMs / 1000)} s for Railway's throttling window${which(slot.index)}`,
          )
          yield* Effect.sleep(Duration.millis(slot.waitMs))
          waited += slot.waitMs
        }
        const answer = yield* post(clients[slot.index]!, operation, text, variables, opts.idempotent ?? isQuery(text))
        if (answer.errors && answer.errors.length > 0) {
          const error = errorOf(
            operation,
            answer.errors.map((e) => e.message),
            slot.index,
          )
          if (error.fault === "throttled" && attempt <= tokens.length * 2 + 2) {
            yield* pool.throttled(kind, slot.index)
            continue
          }
          return yield* error
        }
        return yield* (
          Schema.decodeUnknownEffect(schema as any)(answer.data) as Effect.Effect<S["Type"], unknown>
        ).pipe(
          Effect.mapError(
            (issue) =>
              new ProviderError({
                provider: "railway",
                operation,
                status: 200,
                retryable: false,
                fault: "rejected",
                message: `railway ${operation} answered data of an unexpected shape: ${String(issue).slice(0, 300)}`,
              }),
          ),
        )
      }
    })

  /** Like `query`, but keeps partial data next to the errors (batched status reads them per alias). */
  const raw = (operation: string, text: string, variables: Record<string, unknown>) =>
    Effect.flatMap(pool.reserve("other"), (slot) =>
      post(clients[slot.index]!, operation, text, variables, true).pipe(
        Effect.map((a) => ({
          data: (a.data ?? null) as Record<string, unknown> | null,
          errors: (a.errors ?? []).map((e): GraphqlError => ({ message: redact(e.message), path: e.path ?? null })),
          error: (messages: ReadonlyArray<string>) => errorOf(operation, messages, slot.index),
        })),
      ),
    )

  return { query, raw, tokenCount: tokens.length }
}

export type RailwayApi = ReturnType<typeof makeRailwayApi>
