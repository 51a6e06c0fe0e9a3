import { Duration, Effect, Redacted, Schedule, Schema } from "effect"
import { ProviderError } from "../../domain/errors.ts"

// One small HTTP client for every provider: fetch with a timeout, JSON decoded with effect/Schema, retries with
// exponential backoff on 429/5xx/timeouts only (never other 4xx: they will not get better), Retry-After honoured,
// and every secret redacted from error messages (provider bodies sometimes echo the key back).

export interface ProviderHttpOptions {
  readonly provider: string
  readonly baseUrl: string
  /** Headers on every request (auth). Redacted values are revealed only when sent. */
  readonly headers: Readonly<Record<string, string | Redacted.Redacted<string>>>
  readonly timeout?: Duration.Input
  /** Retries after the first attempt (default 3). */
  readonly retries?: number
  readonly baseDelay?: Duration.Input
  /** A Retry-After longer than this is capped (a provider must not park the pool for an hour). */
  readonly maxRetryAfter?: Duration.Input
}

export interface RequestOptions {
  readonly operation: string
  readonly method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE"
  readonly path: string
  readonly body?: unknown
  /** Statuses that count as success without a body to decode (e.g. 404 on delete = already gone). */
  readonly okStatuses?: ReadonlyArray<number>
}

export interface HttpResult {
  readonly status: number
  readonly json: unknown
}

interface Attempt {
  readonly error: ProviderError
  readonly retryAfterMs: number | null
}

// Secrets a provider hands out in answers (new OpenRouter keys) or that echo a header: never in a message.
const secretPatterns = [/sk-or-v1-[\w-]+/g, /Bearer\s+[^\s"',}]+/gi, /0x[0-9a-fA-F]{64}/g]

/** Replaces every known secret, and anything shaped like a key or bearer token, in a text. */
export const redact = (text: string, secrets: ReadonlyArray<string>): string =>
  secretPatterns.reduce(
    (t, pattern) => t.replace(pattern, "[redacted]"),
    secrets.filter((s) => s.length >= 4).reduce((t, s) => t.split(s).join("[redacted]"), text)
  )

const parseRetryAfter = (value: string | null): number | null => {
  if (value === null) return null
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const at = Date.parse(value)
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now())
}

export const makeProviderHttp = (options: ProviderHttpOptions) => {
  const timeoutMs = Duration.toMillis(Duration.fromInputUnsafe(options.timeout ?? "15 seconds"))
  const maxRetryAfterMs = Duration.toMillis(Duration.fromInputUnsafe(options.maxRetryAfter ?? "30 seconds"))
  const secrets = Object.values(options.headers).flatMap((v) => (Redacted.isRedacted(v) ? [Redacted.value(v)] : []))
  const headerValues = (): Record<string, string> =>
    Object.fromEntries(Object.entries(options.headers).map(([k, v]) => [k, Redacted.isRedacted(v) ? Redacted.value(v) : v]))
  const clean = (s: string) => redact(s, secrets)

  const fail = (req: RequestOptions, status: number | null, retryable: boolean, what: string, retryAfterMs: number | null = null): Attempt => ({
    error: new ProviderError({
      provider: options.provider,
      operation: req.operation,
      status,
      retryable,
      message: clean(`${options.provider} ${req.operation} (${req.method} ${req.path}) ${what}`),
    }),
    retryAfterMs,
  })

  const once = (req: RequestOptions): Effect.Effect<HttpResult, Attempt> =>
    Effect.tryPromise({
      try: async (signal) => {
        const controller = new AbortController()
        const onAbort = () => controller.abort()
        signal.addEventListener("abort", onAbort)
        const timer = setTimeout(() => controller.abort(new Error("timeout")), timeoutMs)
        try {
          // An empty path means the base URL itself (GraphQL endpoints): no trailing slash appended.
          const url = req.path === "" ? options.baseUrl : new URL(req.path.replace(/^\//, ""), options.baseUrl.endsWith("/") ? options.baseUrl : `${options.baseUrl}/`)
          const res = await fetch(url, {
            method: req.method,
            headers: { ...headerValues(), ...(req.body === undefined ? {} : { "content-type": "application/json" }), accept: "application/json" },
            body: req.body === undefined ? undefined : JSON.stringify(req.body),
            signal: controller.signal,
          })
          const text = await res.text()
          return { status: res.status, text, retryAfter: res.headers.get("retry-after") }
        } finally {
          clearTimeout(timer)
          signal.removeEventListener("abort", onAbort)
        }
      },
      catch: (cause) => {
        const timedOut = cause instanceof Error && (cause.name === "AbortError" || cause.name === "TimeoutError" || String(cause.message).includes("timeout"))
        return fail(req, null, true, timedOut ? `timed out after ${timeoutMs} ms; the provider may be down, try again later` : `could not connect: ${cause instanceof Error ? cause.message : String(cause)}`)
      },
    }).pipe(
      Effect.flatMap(({ status, text, retryAfter }) => {
        const snippet = text.slice(0, 300)
        if (status === 429) return Effect.fail(fail(req, status, true, `was rate limited (429): ${snippet}`, parseRetryAfter(retryAfter)))
        if (status >= 500) return Effect.fail(fail(req, status, true, `failed with ${status}: ${snippet}`, parseRetryAfter(retryAfter)))
        const ok = (status >= 200 && status < 300) || (req.okStatuses ?? []).includes(status)
        if (!ok) {
          const hint = status === 401 || status === 403 ? " (check the API key)" : ""
          return Effect.fail(fail(req, status, false, `was refused with ${status}${hint}: ${snippet}`))
        }
        if (text.trim() === "") return Effect.succeed({ status, json: null })
        try {
          return Effect.succeed({ status, json: JSON.parse(text) as unknown })
        } catch {
          return Effect.fail(fail(req, status, false, `answered ${status} with a body that is not JSON: ${snippet}`))
        }
      })
    )

  const schedule = Schedule.exponential(options.baseDelay ?? "500 millis").pipe(
    Schedule.setInputType<Attempt>(),
    Schedule.while(({ input, attempt }) => input.error.retryable && attempt <= (options.retries ?? 3)),
    // Retry-After from the provider wins over our own backoff when it asks for longer.
    Schedule.modifyDelay(({ input, duration }) =>
      Effect.succeed(input.retryAfterMs === null ? duration : Duration.max(duration, Duration.millis(Math.min(input.retryAfterMs, maxRetryAfterMs))))
    )
  )

  /** Sends one request; retries only what can get better. */
  const request = (req: RequestOptions): Effect.Effect<HttpResult, ProviderError> =>
    once(req).pipe(
      Effect.retry(schedule),
      Effect.mapError((a) => a.error)
    )

  /** Sends one request and decodes the JSON answer; a body of the wrong shape is a non-retryable ProviderError. */
  const json = <S extends Schema.Top>(req: RequestOptions, schema: S): Effect.Effect<S["Type"], ProviderError> =>
    request(req).pipe(
      Effect.flatMap((res) =>
        Schema.decodeUnknownEffect(schema as any)(res.json).pipe(
          Effect.mapError(
            (issue) =>
              new ProviderError({
                provider: options.provider,
                operation: req.operation,
                status: res.status,
                retryable: false,
                message: clean(`${options.provider} ${req.operation} answered a body of an unexpected shape: ${String(issue).slice(0, 300)}`),
              })
          )
        ) as Effect.Effect<S["Type"], ProviderError>
      )
    )

  return { request, json, redact: clean }
}

export type ProviderHttp = ReturnType<typeof makeProviderHttp>
