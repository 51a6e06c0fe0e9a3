import { Cause, Clock, Duration, Effect, Exit, Option, Redacted, Schedule, Schema } from "effect"
import { ProviderError, providerFault } from "../../domain/errors.ts"
import { measured, providerCallDuration, providerCallsTotal } from "../../observability/metrics.ts"

// One small HTTP client for every provider: fetch with a timeout, JSON decoded with effect/Schema, retries with
// exponential backoff on 429/5xx/timeouts only (never other 4xx: they will not get better), Retry-After honoured,
// and every secret redacted from error messages (provider bodies sometimes echo the key back).
//
// Creates are not idempotent: a timeout or a 5xx may come after the provider carried the request out (a number was
// bought, a project made), so a blind retry can do it twice. Requests are retried on timeout/5xx only when they are
// idempotent (GET/PUT/DELETE by default; a POST/PATCH only when the caller says so, e.g. AgentMail's client_id). A
// non-idempotent request is retried only when it surely did not happen: 429 (refused before processing) or a
// refused connection. Otherwise the error is returned at once and `mayHaveHappened(error)` is true: the caller
// looks the resource up (by name, by reference) before trying again.

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
  /** How requests are sent (default: the global fetch); the Docker client passes one that speaks over a unix socket. */
  readonly fetch?: typeof fetch
}

export interface RequestOptions {
  readonly operation: string
  readonly method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE"
  readonly path: string
  readonly body?: unknown
  /** Statuses that count as success without a body to decode (e.g. 404 on delete = already gone). */
  readonly okStatuses?: ReadonlyArray<number>
  /**
   * Whether sending it twice has the effect of sending it once. Default: true for GET/PUT/DELETE, false for
   * POST/PATCH. Non-idempotent requests are not retried after a timeout or 5xx (see the header).
   */
  readonly idempotent?: boolean
}

export interface HttpResult {
  readonly status: number
  readonly json: unknown
}

interface Attempt {
  readonly error: ProviderError
  readonly retryAfterMs: number | null
  /** True when the provider certainly did not act on the request (429, refused connection). */
  readonly notDone: boolean
}

const isIdempotent = (req: RequestOptions) =>
  req.idempotent ?? (req.method === "GET" || req.method === "PUT" || req.method === "DELETE")

/** A call's outcome for provider_calls_total: "ok", or its fault (throttled, unauthorized, unavailable, …). */
const providerOutcome = (exit: Exit.Exit<HttpResult, ProviderError>): string =>
  Exit.isSuccess(exit)
    ? "ok"
    : Option.match(Cause.findErrorOption(exit.cause), { onNone: () => "interrupted", onSome: providerFault })

/** Connection errors that mean the request never left this machine. */
const neverSent = (cause: unknown): boolean => {
  const code = (cause as { cause?: { code?: string } })?.cause?.code ?? (cause as { code?: string })?.code
  return code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN"
}

/**
 * A failed request that the provider may still have carried out (timeout, dropped connection, 5xx): before creating
 * again, look up whether the first attempt took effect.
 */
export const mayHaveHappened = (e: ProviderError): boolean => e.retryable && (e.status === null || e.status >= 500)

// Secrets a provider hands out in answers (new OpenRouter keys) or that echo a header: never in a message.
const secretPatterns = [/sk-or-v1-[\w-]+/g, /Bearer\s+[^\s"',}]+/gi, /0x[0-9a-fA-F]{64}/g]

/** Replaces every known secret, and anything shaped like a key or bearer token, in a text. */
export const redact = (text: string, secrets: ReadonlyArray<string>): string =>
  secretPatterns.reduce(
    (t, pattern) => t.replace(pattern, "[redacted]"),
    secrets.filter((s) => s.length >= 4).reduce((t, s) => t.split(s).join("[redacted]"), text),
  )

/** Retry-After as milliseconds from `now` (the Clock's time): seconds, or an HTTP date. */
const parseRetryAfter = (value: string | null, now: number): number | null => {
  if (value === null) return null
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const at = Date.parse(value)
  return Number.isNaN(at) ? null : Math.max(0, at - now)
}

export const makeProviderHttp = (options: ProviderHttpOptions) => {
  const timeoutMs = Duration.toMillis(Duration.fromInputUnsafe(options.timeout ?? "15 seconds"))
  const maxRetryAfterMs = Duration.toMillis(Duration.fromInputUnsafe(options.maxRetryAfter ?? "30 seconds"))
  const secrets = Object.values(options.headers).flatMap((v) => (Redacted.isRedacted(v) ? [Redacted.value(v)] : []))
  const headerValues = (): Record<string, string> =>
    Object.fromEntries(
      Object.entries(options.headers).map(([k, v]) => [k, Redacted.isRedacted(v) ? Redacted.value(v) : v]),
    )
  const clean = (s: string) => redact(s, secrets)

  const fail = (
    req: RequestOptions,
    status: number | null,
    retryable: boolean,
    what: string,
    retryAfterMs: number | null = null,
    notDone = false,
  ): Attempt => ({
    notDone,
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
          const url =
            req.path === ""
              ? options.baseUrl
              : new URL(
                  req.path.replace(/^\//, ""),
                  options.baseUrl.endsWith("/") ? options.baseUrl : `${options.baseUrl}/`,
                )
          const res = await (options.fetch ?? fetch)(url, {
            method: req.method,
            headers: {
              ...headerValues(),
              ...(req.body === undefined ? {} : { "content-type": "application/json" }),
              accept: "application/json",
            },
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
        const timedOut =
          cause instanceof Error &&
          (cause.name === "AbortError" || cause.name === "TimeoutError" || String(cause.message).includes("timeout"))
        const detail =
          cause instanceof Error
            ? `${cause.message}${(cause as { cause?: { code?: string } }).cause?.code ? ` (${(cause as { cause: { code: string } }).cause.code})` : ""}`
            : String(cause)
        return fail(
          req,
          null,
          true,
          timedOut
            ? `timed out after ${timeoutMs} ms; the provider may be down, try again later`
            : `could not connect: ${detail}`,
          null,
          !timedOut && neverSent(cause),
        )
      },
    }).pipe(
      Effect.bindTo("answer"),
      Effect.bind("now", () => Clock.currentTimeMillis),
      Effect.flatMap(({ answer: { status, text, retryAfter }, now }) => {
        const snippet = text.slice(0, 300)
        if (status === 429)
          return Effect.fail(
            fail(req, status, true, `was rate limited (429): ${snippet}`, parseRetryAfter(retryAfter, now), true),
          )
        if (status >= 500)
          return Effect.fail(
            fail(req, status, true, `failed with ${status}: ${snippet}`, parseRetryAfter(retryAfter, now)),
          )
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
      }),
    )

  const schedule = (idempotent: boolean) =>
    Schedule.exponential(options.baseDelay ?? "500 millis").pipe(
      Schedule.setInputType<Attempt>(),
      Schedule.while(
        ({ input, attempt }) =>
          input.error.retryable && (idempotent || input.notDone) && attempt <= (options.retries ?? 3),
      ),
      // Retry-After from the provider wins over our own backoff when it asks for longer.
      Schedule.modifyDelay(({ input, duration }) =>
        Effect.succeed(
          input.retryAfterMs === null
            ? duration
            : Duration.max(duration, Duration.millis(Math.min(input.retryAfterMs, maxRetryAfterMs))),
        ),
      ),
    )

  /** Sends one request; retries only what can get better. */
  const request = (req: RequestOptions): Effect.Effect<HttpResult, ProviderError> =>
    once(req).pipe(
      Effect.retry(schedule(isIdempotent(req))),
      Effect.mapError((a) =>
        isIdempotent(req) || a.notDone || !mayHaveHappened(a.error)
          ? a.error
          : new ProviderError({
              provider: a.error.provider,
              operation: a.error.operation,
              status: a.error.status,
              retryable: a.error.retryable,
              message: `${a.error.message} (not retried: it may have been carried out)`,
            }),
      ),
      // One span, one count and one duration per call (retries included): outcome "ok", or the fault (providerOutcome).
      (call) =>
        measured(call, { histogram: providerCallDuration, counter: providerCallsTotal }, providerOutcome, {
          provider: options.provider,
        }),
      Effect.withSpan(`provider.${options.provider}`, {
        attributes: {
          "provider.name": options.provider,
          "provider.operation": req.operation,
          "http.method": req.method,
        },
      }),
      Effect.annotateLogs({ provider: options.provider }),
    )

  /** Sends one request and decodes the JSON answer; a body of the wrong shape is a non-retryable ProviderError. */
  const json = <S extends Schema.Top>(req: RequestOptions, schema: S): Effect.Effect<S["Type"], ProviderError> =>
    request(req).pipe(
      Effect.flatMap(
        (res) =>
          Schema.decodeUnknownEffect(schema as any)(res.json).pipe(
            Effect.mapError(
              (issue) =>
                new ProviderError({
                  provider: options.provider,
                  operation: req.operation,
                  status: res.status,
                  retryable: false,
                  message: clean(
                    `${options.provider} ${req.operation} answered a body of an unexpected shape: ${String(issue).slice(0, 300)}`,
                  ),
                }),
            ),
          ) as Effect.Effect<S["Type"], ProviderError>,
      ),
    )

  return { request, json, redact: clean }
}

export type ProviderHttp = ReturnType<typeof makeProviderHttp>
