import { Effect, Redacted, Schema } from "effect"
import { ProviderError } from "../../domain/errors.ts"
import { makeProviderHttp, type ProviderHttpOptions } from "../http/ProviderHttp.ts"

// Railway's public API is GraphQL: HTTP errors (429/5xx) are retried by ProviderHttp; GraphQL `errors` in a 200
// answer are not (they are about the request), except rate-limit wording which callers may retry. Everything is a
// POST, so idempotency is per operation: queries are (retried on timeout/5xx), mutations are not unless the caller
// says so (deletes, the environment patch); creates look up by name before trying again (RailwayCompute).

const Answer = Schema.Struct({
  data: Schema.optional(Schema.NullOr(Schema.Unknown)),
  errors: Schema.optional(Schema.Array(Schema.Struct({ message: Schema.String, path: Schema.optional(Schema.NullOr(Schema.Array(Schema.Union([Schema.String, Schema.Number])))) }))),
})

const isQuery = (query: string) => /^\s*query\b/.test(query)

export const isNotFoundMessage = (message: string) => /not found|does not exist|not authorized to access/i.test(message)
export const isNotFound = (e: ProviderError) => isNotFoundMessage(e.message)

export const makeRailwayGraphql = (options: { readonly token: Redacted.Redacted<string>; readonly url: string; readonly http?: Partial<ProviderHttpOptions> }) => {
  const http = makeProviderHttp({
    provider: "railway",
    baseUrl: options.url,
    headers: { authorization: Redacted.make(`Bearer ${Redacted.value(options.token)}`) },
    ...options.http,
  })
  /** Runs one query/mutation and decodes `data` with `schema`. */
  return <S extends Schema.Top>(
    operation: string,
    query: string,
    variables: Record<string, unknown>,
    schema: S,
    options: { readonly idempotent?: boolean } = {}
  ): Effect.Effect<S["Type"], ProviderError> =>
    http.json({ operation, method: "POST", path: "", body: { query, variables }, idempotent: options.idempotent ?? isQuery(query) }, Answer).pipe(
      Effect.flatMap((answer) => {
        if (answer.errors && answer.errors.length > 0) {
          const text = answer.errors.map((e) => e.message).join("; ")
          return Effect.fail(
            new ProviderError({
              provider: "railway",
              operation,
              status: 200,
              retryable: /rate limit|too quickly|too many/i.test(text),
              message: http.redact(`railway ${operation} failed: ${text}`),
            })
          )
        }
        return Schema.decodeUnknownEffect(schema as any)(answer.data).pipe(
          Effect.mapError(
            (issue) =>
              new ProviderError({ provider: "railway", operation, status: 200, retryable: false, message: `railway ${operation} answered data of an unexpected shape: ${String(issue).slice(0, 300)}` })
          )
        ) as Effect.Effect<S["Type"], ProviderError>
      })
    )
}

export type RailwayGraphql = ReturnType<typeof makeRailwayGraphql>

/** Like the query function, but keeps partial data next to the errors (batched status: one missing project must not hide the others). */
export const makeRailwayGraphqlRaw = (options: { readonly token: Redacted.Redacted<string>; readonly url: string; readonly http?: Partial<ProviderHttpOptions> }) => {
  const http = makeProviderHttp({
    provider: "railway",
    baseUrl: options.url,
    headers: { authorization: Redacted.make(`Bearer ${Redacted.value(options.token)}`) },
    ...options.http,
  })
  return (operation: string, query: string, variables: Record<string, unknown>) =>
    http.json({ operation, method: "POST", path: "", body: { query, variables }, idempotent: true }, Answer).pipe(
      Effect.map((a) => ({
        data: (a.data ?? null) as Record<string, unknown> | null,
        errors: (a.errors ?? []).map((e) => ({ message: http.redact(e.message), path: e.path ?? null })),
      }))
    )
}
