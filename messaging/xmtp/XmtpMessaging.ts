// The XMTP adapter of the Messaging port, on @xmtp/node-sdk (see README.md here for why this exact version).
// The SDK is imported lazily so the devnet default never loads the 40 MB native binding.
// Binding enums are ambient const enums (isolatedModules), so numeric literals are used:
//   ConsentState Unknown 0 / Allowed 1 / Denied 2; GroupPermissionsOptions AdminOnly 1; PermissionLevel Member 0 / Admin 1 /
//   SuperAdmin 2; GroupMessageKind MembershipChange 1; SortDirection Ascending 0 / Descending 1; IdentifierKind Ethereum 0.
import { Effect, Option, Scope, Stream } from "effect"
import { mkdirSync } from "node:fs"
import { dirname, join } from "node:path"
import type { Client, DecodedMessage, Dm, Group } from "@xmtp/node-sdk"
import { MessagingError } from "../errors.ts"
import {
  Messaging,
  TextContentType,
  type ChatMessage,
  type Consent,
  type ContentType,
  type ConversationInfo,
  type MessagingClient,
  type MessagingIdentity,
} from "../Messaging.ts"
import { leaveGroup } from "./leave.ts"
import { KNOWN_CUSTOM_TYPES, PassthroughCodec, dbKeyFor, eoaSigner, sameType } from "./codecs.ts"

export interface XmtpSettings {
  readonly env: "dev" | "production"
  /** Directory for per-identity databases when ConnectOptions.dbPath is not given. */
  readonly dbDir: string
  /** Override the network endpoint (tests point it at a closed port to exercise the offline path). */
  readonly apiUrl?: string
}

type AnyClient = Client<unknown>
type Conv = Group<unknown> | Dm<unknown>

const fail = (reason: string, what: string) => (e: unknown) =>
  new MessagingError({ reason, message: `XMTP ${what} failed: ${e instanceof Error ? e.message : String(e)}` })

const tryXmtp = <A>(what: string, f: () => Promise<A> | A, reason = "network") =>
  Effect.tryPromise({ try: async () => f(), catch: fail(reason, what) })

/** How the SDK reports transport failures (offline it says "tcp connect error", "dns error", "service is currently unavailable"). */
const NETWORK_FAILURE =
  /tcp connect|dns error|currently unavailable|unavailable|connection refused|connectionrefused|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|timed? ?out|deadline|transport error|network/i
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e))
export const isNetworkFailure = (e: unknown): boolean => NETWORK_FAILURE.test(errorText(e))

const SDK_MISSING = /ERR_MODULE_NOT_FOUND|Cannot find (package|module)|Failed to (load|resolve)/i
const BINDING_BROKEN = /ERR_DLOPEN_FAILED|GLIBC|native binding|\.node\b/i

/**
 * Imports @xmtp/node-sdk lazily (only with XMTP_ENV; it may be missing from a partial install, and its native binding
 * may not load on every platform), failing with reason "unavailable" and what to do instead.
 */
export const loadXmtpSdk = (load: () => Promise<typeof import("@xmtp/node-sdk")> = () => import("@xmtp/node-sdk")) =>
  Effect.tryPromise({
    try: load,
    catch: (e) => {
      const text = `${(e as { code?: string })?.code ?? ""} ${errorText(e)}`
      const fix = "Unset XMTP_ENV to use the local devnet instead."
      return new MessagingError({
        reason: "unavailable",
        message: SDK_MISSING.test(text)
          ? `XMTP_ENV is set but @xmtp/node-sdk is not installed (it is an dependency of the messaging package, skipped where it cannot be installed). Run \`npm install\` on a platform it supports (see messaging/xmtp/README.md). ${fix}`
          : BINDING_BROKEN.test(text)
            ? `XMTP_ENV is set but @xmtp/node-sdk's native binding does not load on this machine (${errorText(e)}). Use the pinned version from messaging/xmtp/README.md on a supported platform. ${fix}`
            : `XMTP_ENV is set but @xmtp/node-sdk could not be loaded: ${errorText(e)}. ${fix}`,
      })
    },
  })

const consentName = (n: number): Consent => (n === 1 ? "allowed" : n === 2 ? "denied" : "unknown")
const consentNumber = (c: Consent): number => (c === "allowed" ? 1 : c === "denied" ? 2 : 0)
const isGroup = (c: Conv): c is Group<unknown> => "addMembers" in c

const toChatMessage = (m: DecodedMessage<unknown>): ChatMessage => {
  const type: ContentType = m.contentType
  const base = {
    id: m.id,
    conversationId: m.conversationId,
    senderInboxId: m.senderInboxId,
    sentAt: m.sentAt,
    contentType: type,
    fallback: m.fallback ?? null,
  }
  if (m.kind === 1) {
    const u = m.content as
      | {
          initiatedByInboxId?: string
          addedInboxes?: { inboxId: string }[]
          removedInboxes?: { inboxId: string }[]
          leftInboxes?: { inboxId: string }[]
        }
      | undefined
    const membership = {
      added: (u?.addedInboxes ?? []).map((i) => i.inboxId),
      removed: [...(u?.removedInboxes ?? []), ...(u?.leftInboxes ?? [])].map((i) => i.inboxId),
      by: u?.initiatedByInboxId ?? m.senderInboxId,
    }
    return {
      ...base,
      kind: "membership_change",
      content: new TextEncoder().encode(JSON.stringify(u ?? {})),
      text: null,
      membership,
    }
  }
  if (sameType(type, TextContentType) && typeof m.content === "string") {
    return { ...base, kind: "application", content: new TextEncoder().encode(m.content), text: m.content }
  }
  // Passthrough codecs decode custom types to their EncodedContent; other built-ins keep only their fallback.
  const raw = m.content as { content?: Uint8Array } | undefined
  return {
    ...base,
    kind: "application",
    content: raw?.content instanceof Uint8Array ? raw.content : new Uint8Array(),
    text: null,
  }
}

const connectXmtp = (
  settings: XmtpSettings,
  identity: MessagingIdentity,
  options: { dbPath?: string; dbEncryptionKey?: string },
) =>
  Effect.gen(function* () {
    const sdk = yield* loadXmtpSdk()
    const dbPath = options.dbPath ?? join(settings.dbDir, `xmtp-${settings.env}-${identity.inboxId}.db3`)
    mkdirSync(dirname(dbPath), { recursive: true })
    const client: AnyClient = yield* Effect.acquireRelease(
      tryXmtp(
        "connecting (Client.create)",
        () =>
          sdk.Client.create(eoaSigner(identity), {
            env: settings.env,
            ...(settings.apiUrl ? { apiUrl: settings.apiUrl } : {}),
            dbPath,
            dbEncryptionKey: options.dbEncryptionKey
              ? (`0x${options.dbEncryptionKey.replace(/^0x/i, "")}` as const)
              : dbKeyFor(identity),
            codecs: KNOWN_CUSTOM_TYPES.map((t) => new PassthroughCodec(t)),
          }) as Promise<AnyClient>,
      ),
      (c) => Effect.promise(() => c.close()).pipe(Effect.ignore),
    )
    if (client.inboxId !== identity.inboxId) {
      return yield* new MessagingError({
        reason: "invalid",
        message: `XMTP inbox ${client.inboxId} differs from the derived ${identity.inboxId}; this key is associated with another inbox.`,
      })
    }
    return makeClient(client, identity)
  })

/** The port on one node-sdk Client (exported for tests that exercise it with a stand-in client). */
export const makeClient = (client: AnyClient, identity: MessagingIdentity): MessagingClient => {
  const find = (id: string) =>
    tryXmtp("finding the conversation", async () => {
      let c = await client.conversations.getConversationById(id)
      if (!c) {
        await client.conversations.sync()
        c = await client.conversations.getConversationById(id)
      }
      return c as Conv | undefined
    })
  const need = (id: string) =>
    Effect.flatMap(find(id), (c) =>
      c
        ? Effect.succeed(c)
        : Effect.fail(
            new MessagingError({
              reason: "not-found",
              message: `Conversation ${id} is unknown to this inbox; sync or check the id.`,
            }),
          ),
    )
  /** A group we were removed from stays listed but inactive; sending to it must fail like on devnet. */
  const needActive = (id: string) =>
    Effect.flatMap(need(id), (c) =>
      !c.isActive
        ? Effect.fail(
            new MessagingError({
              reason: "not-member",
              message: `You were removed from conversation ${id} and can no longer send to it.`,
            }),
          )
        : // Between the leave request and its commit by an admin the group is still active: sending stays refused.
          isGroup(c) && c.isPendingRemoval()
          ? Effect.fail(
              new MessagingError({
                reason: "not-member",
                message: `You left conversation ${id} and can no longer send to it.`,
              }),
            )
          : Effect.succeed(c),
    )
  const needGroup = (id: string) =>
    Effect.flatMap(need(id), (c) =>
      isGroup(c)
        ? Effect.succeed(c)
        : Effect.fail(
            new MessagingError({
              reason: "invalid",
              message: `Conversation ${id} is a DM; only groups have members to manage.`,
            }),
          ),
    )
  const info = (c: Conv) =>
    tryXmtp("reading conversation metadata", async (): Promise<ConversationInfo> => {
      const meta = await c.metadata()
      return isGroup(c)
        ? {
            id: c.id,
            kind: "group",
            name: c.name,
            description: c.description,
            appData: c.appData || null,
            creatorInboxId: meta.creatorInboxId,
            createdAt: c.createdAt,
            peerInboxId: null,
          }
        : {
            id: c.id,
            kind: "dm",
            name: null,
            description: null,
            appData: null,
            creatorInboxId: meta.creatorInboxId,
            createdAt: c.createdAt,
            peerInboxId: c.peerInboxId,
          }
    })
  const requireKnown = (inboxIds: ReadonlyArray<string>) =>
    inboxIds.length === 0
      ? Effect.void
      : Effect.tryPromise({
          try: () => client.preferences.fetchInboxStates([...inboxIds]),
          // A lookup that never reached XMTP says nothing about the inbox: report the network, not "unknown inbox".
          catch: (e) =>
            isNetworkFailure(e)
              ? new MessagingError({
                  reason: "unreachable",
                  message: `XMTP network unreachable while looking up inbox ${inboxIds.join(", ")} (${errorText(e)}). Check the internet connection and XMTP_ENV/XMTP_API_URL, then try again.`,
                })
              : new MessagingError({
                  reason: "unknown-inbox",
                  message: `Inbox ${inboxIds.join(", ")} could not be looked up on XMTP (${errorText(e)}); that identity must connect once first.`,
                }),
        }).pipe(
          Effect.flatMap((states) => {
            const known = new Set(states.filter((s) => s.identifiers.length > 0).map((s) => s.inboxId))
            const missing = inboxIds.filter((id) => !known.has(id))
            return missing.length === 0
              ? Effect.void
              : Effect.fail(
                  new MessagingError({
                    reason: "unknown-inbox",
                    message: `Inbox ${missing.join(", ")} is not registered on XMTP; that identity must connect once first.`,
                  }),
                )
          }),
        )
  const permissionError = (what: string) => (e: MessagingError) =>
    /permission|not allowed|admin|policy/i.test(e.message)
      ? new MessagingError({ reason: "forbidden", message: `Only admins can ${what} in this group. (${e.message})` })
      : e
  const listMessages = (c: Conv, afterMs?: number, limit?: number) =>
    tryXmtp("listing messages", () =>
      afterMs === undefined
        ? c.messages({ limit: limit ?? 1000, direction: 1 }).then((ms) => ms.reverse())
        : c.messages({ sentAfterNs: BigInt(Math.floor(afterMs)) * 1_000_000n, limit: limit ?? 1000, direction: 0 }),
    ).pipe(Effect.map((ms) => ms.map(toChatMessage)))

  const stream = (options?: { readonly afterMs?: number }): Stream.Stream<ChatMessage, MessagingError> =>
    Stream.unwrap(
      Effect.gen(function* () {
        // Open the live stream before reading history so nothing falls between them; duplicates are dropped below.
        const live = yield* Effect.acquireRelease(
          tryXmtp("opening the message stream", () =>
            client.conversations.streamAllMessages({ consentStates: [1, 0] }),
          ),
          (s) => Effect.promise(() => s.end()).pipe(Effect.ignore),
        )
        let history: ChatMessage[] = []
        if (options?.afterMs !== undefined) {
          const afterMs = options.afterMs
          yield* tryXmtp("syncing conversations", () => client.conversations.syncAll([1, 0]))
          const convs = (yield* tryXmtp("listing conversations", () =>
            client.conversations.list({ consentStates: [1, 0] }),
          )) as Conv[]
          for (const c of convs) history.push(...(yield* listMessages(c, afterMs)))
          history = history.sort((a, b) => a.sentAt.getTime() - b.sentAt.getTime())
        }
        const seen = new Set<string>()
        const once = (m: ChatMessage) => {
          if (seen.has(m.id)) return false
          seen.add(m.id)
          if (seen.size > 10_000) seen.delete(seen.values().next().value!)
          return true
        }
        return Stream.concat(
          Stream.fromIterable(history),
          Stream.fromAsyncIterable(live, fail("network", "streaming messages")).pipe(
            Stream.map((m) => toChatMessage(m as DecodedMessage<unknown>)),
          ),
        ).pipe(Stream.filter(once))
      }),
    )

  return {
    inboxId: identity.inboxId,
    address: identity.address,
    createGroup: (members, options) =>
      Effect.andThen(
        requireKnown(members),
        tryXmtp("creating a group", () =>
          client.conversations.createGroup([...members], {
            permissions: 1,
            ...(options?.name !== undefined ? { groupName: options.name } : {}),
            ...(options?.description !== undefined ? { groupDescription: options.description } : {}),
            ...(options?.appData !== undefined ? { appData: options.appData } : {}),
          }),
        ),
      ).pipe(Effect.flatMap((g) => info(g as Conv))),
    dm: (peer) =>
      peer === identity.inboxId
        ? Effect.fail(
            new MessagingError({
              reason: "invalid",
              message: "A DM needs another inbox; you cannot open a DM with yourself.",
            }),
          )
        : Effect.andThen(
            requireKnown([peer]),
            tryXmtp("opening a DM", () => client.conversations.createDm(peer)),
          ).pipe(Effect.flatMap((d) => info(d as Conv))),
    conversation: (id) =>
      Effect.flatMap(find(id), (c) => (c ? Effect.map(info(c), Option.some) : Effect.succeed(Option.none()))),
    conversations: tryXmtp("listing conversations", async () => {
      await client.conversations.sync()
      return (await client.conversations.list()) as Conv[]
    }).pipe(Effect.flatMap((cs) => Effect.forEach(cs, info))),
    members: (id) =>
      Effect.flatMap(need(id), (c) => tryXmtp("listing members", () => c.members())).pipe(
        Effect.map((ms) =>
          ms.map((m) => ({
            inboxId: m.inboxId,
            role:
              m.permissionLevel === 2
                ? ("super_admin" as const)
                : m.permissionLevel === 1
                  ? ("admin" as const)
                  : ("member" as const),
          })),
        ),
      ),
    addMembers: (id, inboxIds) =>
      Effect.flatMap(needGroup(id), (g) =>
        Effect.andThen(
          requireKnown(inboxIds),
          tryXmtp("adding members", () => g.addMembers([...inboxIds])),
        ),
      ).pipe(Effect.mapError(permissionError("add members"))),
    removeMembers: (id, inboxIds) =>
      Effect.flatMap(needGroup(id), (g) => tryXmtp("removing members", () => g.removeMembers([...inboxIds]))).pipe(
        Effect.mapError(permissionError("remove members")),
      ),
    leave: (id) => Effect.flatMap(needGroup(id), (g) => leaveGroup(identity.inboxId, id, g)),
    updateGroup: (id, options) =>
      Effect.flatMap(needGroup(id), (g) =>
        tryXmtp("updating the group", async () => {
          if (options.name !== undefined) await g.updateName(options.name)
          if (options.description !== undefined) await g.updateDescription(options.description)
          if (options.appData !== undefined) await g.updateAppData(options.appData)
        }),
      ).pipe(Effect.mapError(permissionError("change the group's metadata"))),
    sendText: (id, text) => Effect.flatMap(needActive(id), (c) => tryXmtp("sending text", () => c.sendText(text))),
    send: (id, content) =>
      Effect.flatMap(needActive(id), (c) =>
        tryXmtp("sending", () =>
          c.send(
            {
              type: content.contentType,
              parameters: {},
              ...(content.fallback !== undefined ? { fallback: content.fallback } : {}),
              content: content.content,
            },
            // node-sdk's default is shouldPush false; Convos join requests need true, so the caller decides.
            { shouldPush: content.shouldPush ?? false },
          ),
        ),
      ),
    messages: (id, options) =>
      Effect.flatMap(need(id), (c) =>
        Effect.andThen(
          tryXmtp("syncing", () => c.sync()),
          listMessages(c, options?.afterMs, options?.limit),
        ),
      ),
    stream,
    consent: (id) => Effect.map(need(id), (c) => consentName(c.consentState())),
    setConsent: (id, consent) =>
      Effect.flatMap(need(id), (c) => tryXmtp("setting consent", () => c.updateConsentState(consentNumber(consent)))),
    sync: tryXmtp("syncing", () => client.conversations.syncAll([1, 0])).pipe(Effect.asVoid),
  }
}

export const makeXmtpMessaging = (settings: XmtpSettings): Messaging["Service"] =>
  Messaging.of({
    network: settings.env,
    connect: (identity, options): Effect.Effect<MessagingClient, MessagingError, Scope.Scope> =>
      connectXmtp(settings, identity, {
        ...(options?.dbPath ? { dbPath: options.dbPath } : {}),
        ...(options?.dbEncryptionKey ? { dbEncryptionKey: options.dbEncryptionKey } : {}),
      }),
  })
