// The devnet adapter of the Messaging port: talks HTTP to a devnet server (see server.ts), from any process.
import { Config, Effect, Layer, Option, Schedule, Scope, Stream } from "effect"
import { DataDir } from "@convos-agents/contract"
import { existsSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { bytesToHex } from "@noble/hashes/utils.js"
import { signRecoverable } from "../identity.ts"
import { MessagingError } from "../errors.ts"
import {
  Messaging,
  TextContentType,
  type ChatMessage,
  type Consent,
  type ConversationInfo,
  type MessagingClient,
  type MessagingIdentity,
} from "../Messaging.ts"
import { challengeMessage, type WireConversation, type WireMember, type WireMessage } from "./wire.ts"

/** How long a call keeps retrying while the devnet server is unreachable (e.g. restarting) before failing: 30 s. */
const UNREACHABLE_RETRIES = 150
/** Streams are long-lived (bots, agents): they wait up to 5 min for the server to come back. */
const STREAM_UNREACHABLE_RETRIES = 1500
const POLL_WAIT_MS = 20_000
/** Ids remembered per stream to drop duplicates (a long-lived bot must not grow without bound). */
const DEDUP_WINDOW = 10_000

/** Where `npm start` records the URL of the devnet it started, so other processes (chat, web) find it. */
export const devnetUrlFile = (dataDir: string): string => join(dataDir, "devnet.url")

const utf8 = new TextDecoder()
const isText = (ct: { authorityId: string; typeId: string }) =>
  ct.authorityId === TextContentType.authorityId && ct.typeId === TextContentType.typeId

export const toChatMessage = (m: WireMessage): ChatMessage => {
  const content = new Uint8Array(Buffer.from(m.content, "base64"))
  return {
    id: m.id,
    conversationId: m.conversationId,
    senderInboxId: m.senderInboxId,
    sentAt: new Date(m.sentAtMs),
    kind: m.kind,
    contentType: m.contentType,
    content,
    text: m.kind === "application" && isText(m.contentType) ? utf8.decode(content) : null,
    fallback: m.fallback,
    shouldPush: m.shouldPush,
    membership: m.membership ?? undefined,
  }
}

const toConversation = (c: WireConversation): ConversationInfo => ({
  id: c.id,
  kind: c.kind,
  name: c.name,
  description: c.description,
  appData: c.appData,
  creatorInboxId: c.creatorInboxId,
  createdAt: new Date(c.createdAtMs),
  peerInboxId: c.peerInboxId,
})

/** Connection refused = the request never arrived (safe to retry anything); other transport failures may have been processed. */
const transportError = (url: string, path: string, e: unknown) => {
  const cause = (e as { cause?: { code?: string } })?.cause
  const refused = cause?.code === "ECONNREFUSED"
  return new MessagingError({
    reason: refused ? "unreachable" : "network",
    message: refused
      ? `Devnet server at ${url} is unreachable; start it with \`npm start\` or set DEVNET_URL.`
      : `Request ${path} to the devnet server at ${url} failed (${String(cause ?? e)}).`,
  })
}

/** One HTTP call; retried while the server refuses connections (restarting). `idempotent` calls also retry other transport failures. */
const call = <A>(
  url: string,
  path: string,
  body: unknown,
  token: string | undefined,
  signal?: AbortSignal,
  retries = UNREACHABLE_RETRIES,
  idempotent = false,
): Effect.Effect<A, MessagingError> =>
  Effect.tryPromise({
    // The fiber's signal aborts the request on interruption (a stopped stream must not leave a long poll behind).
    try: (interrupted) =>
      fetch(`${url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body ?? {}),
        signal: signal ? AbortSignal.any([signal, interrupted]) : interrupted,
      }),
    catch: (e) => transportError(url, path, e),
  }).pipe(
    Effect.retry({
      schedule: Schedule.spaced("200 millis"),
      times: retries,
      while: (e: MessagingError) =>
        (e.reason === "unreachable" || (idempotent && e.reason === "network")) && !signal?.aborted,
    }),
    Effect.flatMap((res) =>
      Effect.tryPromise({
        try: () => res.json() as Promise<Record<string, unknown>>,
        catch: (e) =>
          new MessagingError({
            reason: "network",
            message: `Devnet server at ${url} sent an unreadable reply (${String(e)}).`,
          }),
      }).pipe(
        Effect.flatMap((json) =>
          res.ok
            ? Effect.succeed(json as A)
            : Effect.fail(
                new MessagingError({
                  reason: String(json.reason ?? "network"),
                  message: String(json.message ?? `HTTP ${res.status}`),
                }),
              ),
        ),
      ),
    ),
  )

const login = (url: string, identity: MessagingIdentity, label: string | undefined) =>
  Effect.gen(function* () {
    const { challenge } = yield* call<{ challenge: string }>(url, "/v1/challenge", {}, undefined)
    const signature = bytesToHex(signRecoverable(identity, challengeMessage(challenge)))
    const session = yield* call<{ token: string; inboxId: string }>(
      url,
      "/v1/connect",
      { challenge, signature, label },
      undefined,
    )
    if (session.inboxId !== identity.inboxId) {
      return yield* new MessagingError({
        reason: "invalid",
        message: `Devnet derived inbox ${session.inboxId} for this key, expected ${identity.inboxId}; the identity record is corrupt.`,
      })
    }
    return session.token
  })

const encodeOut = (
  contentType: ChatMessage["contentType"],
  content: Uint8Array,
  fallback?: string,
  shouldPush?: boolean,
) => ({
  contentType,
  content: Buffer.from(content).toString("base64"),
  fallback,
  shouldPush,
})

/** Opens a devnet client for `identity` against the server at `url`; in-flight calls are aborted when the scope closes. */
export const connectDevnet = (
  url: string,
  identity: MessagingIdentity,
  label?: string,
): Effect.Effect<MessagingClient, MessagingError, Scope.Scope> =>
  Effect.gen(function* () {
    const aborter = new AbortController()
    yield* Effect.addFinalizer(() => Effect.sync(() => aborter.abort()))
    const token = yield* login(url, identity, label)
    const rpc = <A>(op: string, body: unknown = {}, retries?: number) =>
      call<A>(url, `/v1/${op}`, body, token, aborter.signal, retries, op === "poll")

    const stream = (options?: { readonly afterMs?: number }): Stream.Stream<ChatMessage, MessagingError> =>
      Stream.suspend(() => {
        const seen = new Set<string>()
        // Without afterMs the stream is live from now (1 ms slack: the server clock is this machine's clock).
        const start = { afterMs: options?.afterMs ?? Date.now() - 1 } as { afterMs?: number; afterSeq?: number }
        return Stream.paginate(start, (cursor) =>
          rpc<{ messages: WireMessage[]; cursor: number }>(
            "poll",
            { ...cursor, waitMs: POLL_WAIT_MS },
            STREAM_UNREACHABLE_RETRIES,
          ).pipe(
            Effect.map((r) => {
              const fresh = r.messages.filter((m) => !seen.has(m.id))
              for (const m of fresh) {
                seen.add(m.id)
                if (seen.size > DEDUP_WINDOW) seen.delete(seen.values().next().value!)
              }
              return [fresh.map(toChatMessage), Option.some({ afterSeq: r.cursor })] as const
            }),
          ),
        )
      })

    return {
      inboxId: identity.inboxId,
      address: identity.address,
      createGroup: (members, options) =>
        rpc<WireConversation>("createGroup", { members, ...options }).pipe(Effect.map(toConversation)),
      dm: (peer) => rpc<WireConversation>("dm", { peer }).pipe(Effect.map(toConversation)),
      conversation: (conversationId) =>
        rpc<{ conversation: WireConversation | null }>("conversation", { conversationId }).pipe(
          Effect.map((r) => Option.map(Option.fromNullishOr(r.conversation), toConversation)),
        ),
      conversations: rpc<{ conversations: WireConversation[] }>("conversations").pipe(
        Effect.map((r) => r.conversations.map(toConversation)),
      ),
      members: (conversationId) =>
        rpc<{ members: WireMember[] }>("members", { conversationId }).pipe(Effect.map((r) => r.members)),
      addMembers: (conversationId, inboxIds) => rpc("addMembers", { conversationId, inboxIds }).pipe(Effect.asVoid),
      removeMembers: (conversationId, inboxIds) =>
        rpc("removeMembers", { conversationId, inboxIds }).pipe(Effect.asVoid),
      leave: (conversationId) => rpc("leave", { conversationId }).pipe(Effect.asVoid),
      updateGroup: (conversationId, options) => rpc("updateGroup", { conversationId, ...options }).pipe(Effect.asVoid),
      sendText: (conversationId, text) =>
        rpc<{ id: string }>("send", {
          conversationId,
          message: encodeOut(TextContentType, new TextEncoder().encode(text), text, true),
        }).pipe(Effect.map((r) => r.id)),
      send: (conversationId, c) =>
        rpc<{ id: string }>("send", {
          conversationId,
          message: encodeOut(c.contentType, c.content, c.fallback, c.shouldPush ?? false),
        }).pipe(Effect.map((r) => r.id)),
      messages: (conversationId, options) =>
        rpc<{ messages: WireMessage[] }>("messages", { conversationId, ...options }).pipe(
          Effect.map((r) => r.messages.map(toChatMessage)),
        ),
      stream,
      consent: (conversationId) =>
        rpc<{ consent: Consent }>("consent", { conversationId }).pipe(Effect.map((r) => r.consent)),
      setConsent: (conversationId, consent) => rpc("setConsent", { conversationId, consent }).pipe(Effect.asVoid),
      sync: Effect.void,
    } satisfies MessagingClient
  })

export const makeDevnetMessaging = (url: string): Messaging["Service"] =>
  Messaging.of({
    network: "devnet",
    devnetUrl: url,
    connect: (identity, options) => connectDevnet(url, identity, options?.label),
  })

/** DEVNET_URL, else the URL `npm start` wrote to $DATA_DIR/devnet.url. */
export const devnetUrlConfig = Effect.gen(function* () {
  const explicit = yield* Config.option(Config.String("DEVNET_URL"))
  if (Option.isSome(explicit)) return explicit.value.replace(/\/+$/, "")
  const dataDir = resolve(yield* DataDir)
  const file = devnetUrlFile(dataDir)
  if (existsSync(file)) return readFileSync(file, "utf8").trim()
  return yield* new MessagingError({
    reason: "invalid",
    message: `No devnet to talk to: set DEVNET_URL, or run \`npm start\` first (it writes ${file}).`,
  })
}).pipe(
  Effect.mapError((e) =>
    e instanceof MessagingError
      ? e
      : new MessagingError({ reason: "invalid", message: `Invalid DEVNET_URL/DATA_DIR: ${e.message}` }),
  ),
)

export const DevnetMessaging = {
  /** Configured by DEVNET_URL (or $DATA_DIR/devnet.url). */
  layer: Layer.effect(Messaging, Effect.map(devnetUrlConfig, makeDevnetMessaging)),
  layerFromUrl: (url: string) => Layer.succeed(Messaging, makeDevnetMessaging(url)),
} as const
