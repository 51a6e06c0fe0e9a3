import { Data, Duration, Effect, Layer, Option, Schema } from "effect"
import {
  AvatarNotPlaced,
  AvatarNotPlacedAnswer,
  ConversationsAnswer,
  HealthAnswer,
  InviteAnswer,
  JoinAnswer,
  LeaveAnswer,
  ProvisionAnswer,
} from "@convos-agents/contract"
import { ProviderError } from "../domain/errors.ts"
import { type AgentUpdate, type ProvisionRequest, RuntimeClient } from "./RuntimeClient.ts"

// fetch-based client of the runtime contract; its answers are decoded with the contract's Schemas (contract/runtime.ts).
// Errors say which instance URL and what to check; tokens never appear.

const fail = (operation: string, status: number | null, message: string) =>
  new ProviderError({ provider: "runtime", operation, status, retryable: status === null || status >= 500, message })

/**
 * The most the pool reads of any instance answer (the contract's bodies are a few hundred bytes). A broken or hostile
 * instance cannot make the pool buffer more: reading stops and the stream is cancelled at the limit.
 */
export const MAX_RUNTIME_RESPONSE_BYTES = 64 * 1024

/** Internal to readCapped: the body passed the cap (answered as a ProviderError by the caller). */
class ResponseTooLarge extends Data.TaggedError("ResponseTooLarge")<{ readonly limit: number }> {}

/** The body as text, or ResponseTooLarge as soon as more than `limit` bytes arrived (the rest is never read). */
const readCapped = async (res: Response, limit: number): Promise<string> => {
  const declared = Number(res.headers.get("content-length") ?? Number.NaN)
  if (declared > limit) {
    await res.body?.cancel().catch(() => {})
    throw new ResponseTooLarge({ limit })
  }
  if (!res.body) return ""
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => {})
      throw new ResponseTooLarge({ limit })
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString("utf8")
}

const call = <A, E = never>(
  operation: string,
  url: string,
  init: RequestInit,
  timeout: Duration.Duration,
  schema: Schema.Decoder<A> | null,
  maxBytes: number,
  /** A refusal the contract spells out (its JSON body), read back as that operation's own error. */
  refusal?: (body: unknown) => E | null,
) =>
  Effect.tryPromise({
    try: async (signal) => {
      const res = await fetch(url, {
        ...init,
        signal: AbortSignal.any([signal, AbortSignal.timeout(Duration.toMillis(timeout))]),
      })
      try {
        return { status: res.status, text: await readCapped(res, maxBytes) }
      } catch (e) {
        if (e instanceof ResponseTooLarge) return { status: res.status, tooLarge: true as const }
        throw e
      }
    },
    catch: (e) =>
      fail(
        operation,
        null,
        `The agent instance at ${new URL(url).origin} did not answer ${operation} (${e instanceof Error ? (e.name === "TimeoutError" ? `no answer within ${Duration.format(timeout)}` : e.message) : String(e)}).`,
      ),
  }).pipe(
    Effect.flatMap((answer) =>
      "tooLarge" in answer
        ? Effect.fail(
            fail(
              operation,
              null,
              `The agent instance at ${new URL(url).origin} answered ${operation} with more than ${maxBytes} bytes; the pool stopped reading. The instance is broken or hostile: check its runtime.log, or kill it.`,
            ),
          )
        : Effect.succeed(answer),
    ),
    Effect.flatMap(({ status, text }): Effect.Effect<A, ProviderError | E> => {
      if (status < 200 || status >= 300) {
        let reason = text.slice(0, 300)
        let known: E | null = null
        try {
          const body = JSON.parse(text) as { error?: unknown }
          if (typeof body.error === "string") reason = body.error
          known = refusal ? refusal(body) : null
        } catch {}
        if (known !== null) return Effect.fail(known)
        return Effect.fail(
          fail(
            operation,
            status,
            `The agent instance refused ${operation} (HTTP ${status}): ${reason || "no details"}.`,
          ),
        )
      }
      if (schema === null) return Effect.succeed(undefined as A)
      return Effect.try({
        try: () => JSON.parse(text) as unknown,
        catch: () => fail(operation, status, `The agent instance answered ${operation} with invalid JSON.`),
      }).pipe(
        Effect.flatMap(Schema.decodeUnknownEffect(schema)),
        Effect.mapError((e) =>
          e instanceof ProviderError
            ? e
            : fail(operation, status, `The agent instance answered ${operation} with an unexpected body: ${e.message}`),
        ),
      )
    }),
  )

const json = (token: string, method: string, body: unknown): RequestInit => ({
  method,
  headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
  body: JSON.stringify(body),
})

export const makeRuntimeClient = (options: {
  healthTimeout: Duration.Duration
  provisionTimeout: Duration.Duration
  maxResponseBytes?: number
}) => {
  const max = options.maxResponseBytes ?? MAX_RUNTIME_RESPONSE_BYTES
  return RuntimeClient.of({
    health: (url, token) =>
      call(
        "health",
        `${url}/pool/health`,
        token ? { method: "GET", headers: { authorization: `Bearer ${token}` } } : { method: "GET" },
        options.healthTimeout,
        HealthAnswer,
        max,
      ),
    provision: (url, token, body: ProvisionRequest) =>
      call(
        "provision",
        `${url}/pool/provision`,
        json(token, "POST", body),
        options.provisionTimeout,
        ProvisionAnswer,
        max,
      ).pipe(
        Effect.map((r) => ({
          conversationId: r.conversationId,
          inviteUrl: r.inviteUrl ?? null,
          joined: r.joined ?? false,
          pending: r.pending ?? false,
        })),
      ),
    update: (url, token, body: AgentUpdate) =>
      call("update", `${url}/pool/agent`, json(token, "PATCH", body), options.provisionTimeout, null, max, (b) =>
        Option.match(Schema.decodeUnknownOption(AvatarNotPlacedAnswer)(b), {
          onNone: () => null,
          onSome: (a) =>
            new AvatarNotPlaced({ reached: a.reached, total: a.total, reason: a.reason, message: a.error }),
        }),
      ),
    join: (url, token, inviteUrl) =>
      call(
        "join",
        `${url}/convos/join`,
        json(token, "POST", { inviteUrl }),
        options.provisionTimeout,
        JoinAnswer,
        max,
      ).pipe(
        Effect.map((r) => ({
          conversationId: r.conversationId ?? "",
          inviteUrl: r.inviteUrl ?? null,
          joined: r.joined ?? !r.pending,
          pending: r.pending ?? false,
        })),
      ),
    rotateInvite: (url, token) =>
      call("invite", `${url}/convos/invite`, json(token, "POST", {}), options.provisionTimeout, InviteAnswer, max),
    conversations: (url, token) =>
      call(
        "conversations",
        `${url}/convos/conversations`,
        { method: "GET", headers: { authorization: `Bearer ${token}` } },
        options.provisionTimeout,
        ConversationsAnswer,
        max,
      ).pipe(Effect.map((r) => r.conversations)),
    leave: (url, token, conversationId) =>
      call(
        "leave",
        `${url}/convos/leave`,
        json(token, "POST", { conversationId }),
        options.provisionTimeout,
        LeaveAnswer,
        max,
      ).pipe(Effect.asVoid),
  })
}

export const RuntimeClientLive = Layer.succeed(
  RuntimeClient,
  makeRuntimeClient({ healthTimeout: Duration.seconds(5), provisionTimeout: Duration.seconds(90) }),
)
