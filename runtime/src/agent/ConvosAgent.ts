// The agent's presence on Convos: its messaging identity, its own conversation + invite, joining others' invites,
// serving join requests for its own invite, and handing inbound text to the agent (OpenClaw) through `onInbound`.
import { Context, Effect, Exit, Fiber, Layer, Option, Scope, Stream } from "effect"
import {
  type ChatMessage,
  identityFromPrivateKey,
  Messaging,
  type MessagingClient,
  MessagingError,
  type MessagingIdentity,
} from "@convos-agents/messaging"
import {
  createInviteSlug,
  encodeMetadata,
  handleJoinRequest,
  InviteError,
  inviteUrlBase,
  JoinFailed,
  joinByInvite,
  randomTag,
  updateMetadata,
} from "@convos-agents/messaging/convos"
import {
  AlreadyProvisioned,
  AvatarMiss,
  AvatarUnavailable,
  BadInvite,
  type CannotLeave,
  JoinRejected,
  MessagingUnavailable,
  NoOwnConversation,
  type UnknownConversation,
} from "./errors.ts"
import { conversationIds, type LeaveDeps, leaveConversation, listConversations } from "./leave.ts"
import { type AgentConversation, AvatarNotPlaced } from "@convos-agents/contract"
import { makeAvatar, type UploadImage } from "./avatar.ts"
import { type ReconnectPolicy, reconnectSchedule } from "./reconnect.ts"
import { makeProgress } from "./progress.ts"
import { type AgentState, loadAgentState, saveAgentState } from "./state.ts"
import { defaultGreeting } from "../config/seedFiles.ts"
import {
  createOwnConversation,
  type OwnConversationDeps,
  reconnectOwnConversation,
  serveOwnConversation,
} from "./ownConversations.ts"

export interface InboundText {
  readonly id: string
  readonly conversationId: string
  readonly senderInboxId: string
  readonly text: string
  readonly sentAt: Date
  /** The conversation's own instructions (a conversation made by createConversation), for this turn only. */
  readonly instructions?: string
}

export interface ProvisionInput {
  readonly agentName: string
  readonly instructions: string
  readonly templateSlug?: string | null
  readonly joinUrl?: string | null
  /** The agent's own model (its template's); absent or null: the configured one. */
  readonly model?: string | null
}

export interface AgentUpdate {
  readonly agentName?: string
  readonly instructions?: string
  /** Switches the model; null goes back to the configured one. Takes effect on the next turn (config hot reload). */
  readonly model?: string | null
  /** A new profile picture (base64 bytes), shown in every conversation (avatar.ts). */
  readonly avatar?: { readonly contentType: string; readonly data: string }
}

export interface ProvisionOutput {
  readonly conversationId: string
  readonly inviteUrl: string | null
  readonly joined: boolean
  readonly pending?: boolean
}

export interface JoinOutput {
  readonly conversationId: string | null
  readonly joined: boolean
  readonly pending: boolean
}

export interface ConvosAgentOptions {
  readonly stateDir: string
  readonly defaults: { readonly agentName: string; readonly instructions: string }
  /**
   * Called (not awaited by the stream) for each text message from someone else in one of the agent's groups; completes
   * once the message is dealt with (OpenClaw took its turn over, or it was answered or refused). Until then a restart
   * replays it.
   */
  readonly onInbound: (message: InboundText) => Effect.Effect<void>
  /** Called after the profile changed (provision / update) so the workspace and config get rewritten. */
  readonly onProfileChanged?: (state: AgentState) => Effect.Effect<void>
  /** Override of the invite link prefix (CONVOS_INVITE_BASE_URL). */
  readonly inviteBaseUrl?: string
  /** How long a join waits for the invite's owner before answering "pending". Default 20 s. */
  readonly joinWaitMs?: number
  /** Backoff when connecting or the message stream fails (AgentHost reconnects; the stream restarts). */
  readonly reconnect?: ReconnectPolicy
  /** The message posted on joining a conversation (or when someone joins the agent's): the workspace's BOOT.md. */
  readonly greeting?: (agentName: string) => string
  /** Uploads an encrypted profile picture to the pool (avatar.ts); without it the agent cannot take a picture. */
  readonly uploadImage?: UploadImage
}

const messagingFailure = (e: MessagingError) =>
  new MessagingUnavailable({ message: `Messaging failed: ${e.message}. Check DEVNET_URL / XMTP_ENV and retry.` })

export class ConvosAgent extends Context.Service<
  ConvosAgent,
  {
    readonly identity: MessagingIdentity
    readonly state: Effect.Effect<AgentState>
    readonly provision: (
      input: ProvisionInput,
    ) => Effect.Effect<ProvisionOutput, AlreadyProvisioned | BadInvite | JoinRejected | MessagingUnavailable>
    readonly update: (
      input: AgentUpdate,
    ) => Effect.Effect<AgentState, MessagingUnavailable | AvatarUnavailable | AvatarNotPlaced>
    /** A new conversation with its own identity (inbox) and instructions; the agent answers there with that identity. */
    readonly createConversation: (
      name: string,
      instructions?: string,
    ) => Effect.Effect<{ conversationId: string; inviteUrl: string; inboxId: string }, MessagingUnavailable>
    readonly join: (inviteUrl: string) => Effect.Effect<JoinOutput, BadInvite | JoinRejected | MessagingUnavailable>
    /**
     * A new invite to the agent's own conversation: the group gets a new tag, so every earlier invite is refused on
     * join. NoOwnConversation when it has none (it joined someone else's).
     */
    readonly rotateInvite: () => Effect.Effect<{ inviteUrl: string }, NoOwnConversation | MessagingUnavailable>
    readonly sendText: (conversationId: string, text: string) => Effect.Effect<string, MessagingUnavailable>
    /** The groups the agent is in (its own first), with their names. */
    readonly conversations: Effect.Effect<ReadonlyArray<AgentConversation>>
    /** Leaves one of them: the others see it go, and the agent stops answering there at once. */
    readonly leave: (
      conversationId: string,
    ) => Effect.Effect<{ left: string }, UnknownConversation | CannotLeave | MessagingUnavailable>
    /** Whether the message stream is running (false while it restarts after a failure). */
    readonly streaming: () => boolean
  }
>()("runtime/agent/ConvosAgent") {
  /** Connects the agent (identity generated at first start) and serves its stream for the lifetime of the scope. */
  static layer = (options: ConvosAgentOptions) => Layer.effect(ConvosAgent, make(options))
}

const make = (options: ConvosAgentOptions) =>
  Effect.gen(function* () {
    const messaging = yield* Messaging
    const greeting = options.greeting ?? defaultGreeting
    let state = loadAgentState(options.stateDir, options.defaults)
    const identity = identityFromPrivateKey(state.privateKey)
    const client: MessagingClient = yield* messaging.connect(identity, { label: state.agentName })
    const scope = yield* Effect.scope
    const save = (next: AgentState) =>
      Effect.sync(() => {
        state = next
        saveAgentState(options.stateDir, next)
      })
    const addConversation = (id: string) =>
      save({
        ...state,
        conversations: state.conversations.includes(id) ? state.conversations : [...state.conversations, id],
      })
    const profileChanged = () => (options.onProfileChanged ? options.onProfileChanged(state) : Effect.void)
    const avatar = makeAvatar({
      stateDir: options.stateDir,
      state: () => state,
      save,
      ...(options.uploadImage ? { upload: options.uploadImage } : {}),
    })

    // Conversations with their own identity: one client each, replies go out through it.
    const ownClients = new Map<string, MessagingClient>()
    const own: OwnConversationDeps = {
      messaging,
      scope,
      ...(options.inviteBaseUrl ? { inviteBaseUrl: options.inviteBaseUrl } : {}),
      ...(options.reconnect ? { reconnect: options.reconnect } : {}),
      agentName: () => state.agentName,
      profile: (c, conversationId) => avatar.profileFor(c, conversationId, state.agentName),
      greeting,
      onText: (m) => options.onInbound(m),
      // A conversation it left is no longer answered, even while an XMTP leave request is still pending.
      isActive: (conversationId) => (state.ownConversations ?? []).some((c) => c.conversationId === conversationId),
      seen: (conversationId, atMs) =>
        save({
          ...state,
          ownConversations: (state.ownConversations ?? []).map((c) =>
            c.conversationId === conversationId ? { ...c, lastSeenMs: atMs } : c,
          ),
        }),
    }
    for (const c of state.ownConversations ?? []) {
      yield* reconnectOwnConversation(own, c).pipe(
        Effect.tap((ownClient) => Effect.sync(() => ownClients.set(c.conversationId, ownClient))),
        Effect.catchCause((cause) =>
          Effect.logError(`conversation ${c.conversationId} could not reconnect its identity`, cause),
        ),
      )
    }
    const createOwn = (name: string, instructions: string) =>
      Effect.gen(function* () {
        const made = yield* createOwnConversation(own, name, instructions)
        ownClients.set(made.conversation.conversationId, made.client)
        yield* save({ ...state, ownConversations: [...(state.ownConversations ?? []), made.conversation] })
        yield* serveOwnConversation(own, made.conversation, made.client)
        return {
          conversationId: made.conversation.conversationId,
          inviteUrl: made.conversation.inviteUrl,
          inboxId: made.conversation.inboxId,
        }
      }).pipe(Effect.mapError(messagingFailure))

    const createConversation = (name: string) =>
      Effect.gen(function* () {
        const tag = randomTag()
        const group = yield* client.createGroup([], { name, appData: encodeMetadata({ tag }) })
        const slug = createInviteSlug(identity, { conversationId: group.id, tag, name })
        const inviteUrl = inviteUrlBase(messaging.network, options.inviteBaseUrl) + slug
        yield* addConversation(group.id)
        return { conversationId: group.id, inviteUrl, tag }
      }).pipe(Effect.mapError(messagingFailure))

    const joinWith = (inviteUrl: string, field: string, waitMs: number) =>
      joinByInvite(client, identity, inviteUrl, {
        profile: { name: state.agentName, kind: "agent" },
        timeoutMs: waitMs,
        pollMs: 250,
      }).pipe(
        Effect.catchIf(
          (e): e is InviteError => e instanceof InviteError,
          (e) => Effect.fail(new BadInvite({ field, message: e.message })),
        ),
        Effect.catchIf(
          (e): e is JoinFailed => e instanceof JoinFailed,
          (e) => Effect.fail(new JoinRejected({ errorType: e.errorType, message: e.message })),
        ),
        Effect.catchIf(
          (e): e is MessagingError => e instanceof MessagingError,
          (e) => Effect.fail(messagingFailure(e)),
        ),
      )

    const afterJoined = (conversationId: string) =>
      addConversation(conversationId).pipe(
        // The join sent the name; with a picture, the profile again with it (encrypted with this group's key).
        Effect.andThen(
          state.avatar
            ? Effect.flatMap(avatar.profileFor(client, conversationId, state.agentName), (p) =>
                client.send(conversationId, p),
              )
            : Effect.void,
        ),
        Effect.andThen(client.sendText(conversationId, greeting(state.agentName))),
        Effect.mapError(messagingFailure),
      )

    /** `onJoined` runs once the join is through, now or (for a pending one) when the owner accepts later. */
    const join = (
      inviteUrl: string,
      field = "inviteUrl",
      onJoined: (conversationId: string) => Effect.Effect<void> = () => Effect.void,
    ) =>
      Effect.gen(function* () {
        const result = yield* joinWith(inviteUrl, field, options.joinWaitMs ?? 20_000)
        if (result._tag === "Joined") {
          yield* afterJoined(result.conversationId)
          yield* onJoined(result.conversationId)
          return { conversationId: result.conversationId, joined: true, pending: false } as JoinOutput
        }
        // Still waiting for the owner's device: keep asking in the background for up to 10 minutes.
        yield* joinWith(inviteUrl, field, 10 * 60_000).pipe(
          Effect.flatMap((r) =>
            r._tag === "Joined"
              ? afterJoined(r.conversationId).pipe(Effect.andThen(Effect.suspend(() => onJoined(r.conversationId))))
              : Effect.void,
          ),
          Effect.catchCause((cause) => Effect.logWarning("background join ended without joining", cause)),
          Effect.forkIn(scope),
        )
        return { conversationId: null, joined: false, pending: true } as JoinOutput
      })

    const provision = (input: ProvisionInput) =>
      Effect.gen(function* () {
        if (state.provisioned) {
          return yield* new AlreadyProvisioned({
            conversationId: state.conversationId,
            message: `This instance is already provisioned as "${state.agentName}"${state.conversationId ? ` (conversation ${state.conversationId})` : ""}. Claim another instance, or use PATCH /pool/agent to change it.`,
          })
        }
        yield* save({
          ...state,
          provisioned: true,
          agentName: input.agentName,
          instructions: input.instructions,
          templateSlug: input.templateSlug ?? null,
          model: input.model ?? null,
        })
        yield* profileChanged()
        if (input.joinUrl) {
          // The joined conversation becomes the agent's own, also when the owner accepts only later (pending):
          // /pool/health then reports it, and the pool can record the claim's conversation.
          const recordOwn = (conversationId: string) =>
            Effect.suspend(() => (state.conversationId ? Effect.void : save({ ...state, conversationId })))
          const joined = yield* join(input.joinUrl, "joinUrl", recordOwn).pipe(
            Effect.tapError(() => save({ ...state, provisioned: false })),
          )
          return {
            conversationId: joined.conversationId ?? "",
            inviteUrl: null,
            joined: joined.joined,
            pending: joined.pending,
          } as ProvisionOutput
        }
        const created = yield* createConversation(input.agentName).pipe(
          Effect.tapError(() => save({ ...state, provisioned: false })),
        )
        yield* save({
          ...state,
          conversationId: created.conversationId,
          inviteUrl: created.inviteUrl,
          inviteTag: created.tag,
        })
        yield* client
          .sendText(created.conversationId, greeting(input.agentName))
          .pipe(Effect.mapError(messagingFailure))
        return {
          conversationId: created.conversationId,
          inviteUrl: created.inviteUrl,
          joined: false,
        } as ProvisionOutput
      })

    const update = (input: AgentUpdate) =>
      Effect.gen(function* () {
        yield* save({
          ...state,
          ...(input.agentName ? { agentName: input.agentName } : {}),
          ...(input.instructions !== undefined ? { instructions: input.instructions } : {}),
          ...(input.model !== undefined ? { model: input.model } : {}),
        })
        if (input.agentName && state.conversationId && state.inviteTag) {
          yield* client
            .updateGroup(state.conversationId, { name: input.agentName })
            .pipe(Effect.mapError(messagingFailure))
        }
        if (input.avatar) {
          yield* avatar.setImage(new Uint8Array(Buffer.from(input.avatar.data, "base64")), input.avatar.contentType)
        }
        let spread: { readonly total: number; readonly misses: ReadonlyArray<AvatarMiss> } = { total: 0, misses: [] }
        if (input.agentName || input.avatar) {
          // The state's list, not the clients': a conversation the agent left keeps its client until the process
          // ends, and trying it would count a conversation the agent is no longer in as a miss. An own conversation
          // whose identity did not reconnect has no client (null) and is counted as missed.
          const targets = conversationIds(state).map((id) => ({
            conversationId: id,
            client:
              ownClients.get(id) ?? (state.ownConversations?.some((o) => o.conversationId === id) ? null : client),
          }))
          spread = yield* avatar.spreadProfile(targets, state.agentName)
        }
        yield* profileChanged()
        // The rest of the change is kept; the owner hears that the picture did not reach everyone, and why.
        const { total, misses } = spread
        if (input.avatar && misses.length > 0) {
          const first = misses[0]!
          return yield* new AvatarNotPlaced({
            reached: total - misses.length,
            total,
            reason: first.reason,
            message: `the picture reached ${total - misses.length} of ${total} conversations: ${first.message}`,
          })
        }
        return state
      })

    // Where a restart resumes: the oldest message still being dealt with, else the newest seen; the ones after it
    // that are already done are remembered so the replay skips them (progress.ts).
    const progress = makeProgress(state)
    const saveProgress = Effect.suspend(() => save({ ...state, ...progress.snapshot() }))
    const finish = (id: string) => Effect.suspend(() => (progress.done(id) ? saveProgress : Effect.void))

    // One stream for everything: text in the agent's groups → agent turn (forked, so a slow LLM never delays join
    // requests); DMs → join requests for the agent's own invites.
    const handle = (m: ChatMessage) =>
      Effect.gen(function* () {
        if (m.senderInboxId === identity.inboxId) return progress.seen(m.sentAt.getTime())
        // Replayed after a restart (or a stream restart) but already answered, or still being answered: not again.
        if (!progress.start(m.id, m.sentAt.getTime())) return
        if (state.conversations.includes(m.conversationId)) {
          if (m.kind === "application" && m.text !== null && m.contentType.typeId === "text") {
            yield* saveProgress
            // Done once dealt with (one interrupted before, at shutdown, stays to be replayed after the restart).
            return yield* options
              .onInbound({
                id: m.id,
                conversationId: m.conversationId,
                senderInboxId: m.senderInboxId,
                text: m.text,
                sentAt: m.sentAt,
              })
              .pipe(
                Effect.onExit((exit) => (Exit.hasInterrupts(exit) ? Effect.void : finish(m.id))),
                Effect.forkIn(scope),
              )
          }
        } else {
          // Members only see messages sent after they joined, so each newcomer gets the greeting once they are in.
          yield* handleJoinRequest(client, identity, m, {
            // The profile update first, so Convos shows the agent's name on the greeting.
            onJoined: ({ groupId }) =>
              avatar.profileFor(client, groupId, state.agentName).pipe(
                Effect.flatMap((p) => client.send(groupId, p)),
                Effect.andThen(client.sendText(groupId, greeting(state.agentName))),
                Effect.asVoid,
              ),
          })
        }
        yield* finish(m.id)
      }).pipe(
        Effect.catchCause((cause) =>
          // A message that cannot be handled is not retried after a restart either: it counts as dealt with.
          Effect.logWarning(`message ${m.id} could not be handled`, cause).pipe(Effect.andThen(finish(m.id))),
        ),
      )

    // The stream restarts (with backoff) when it fails or ends, resuming after the last message seen; meanwhile
    // `streaming` is false, so the instance does not report ready while it cannot hear its conversations.
    let streaming = true
    const serveOnce = Effect.suspend(() => client.stream({ afterMs: state.lastSeenMs }).pipe(Stream.runForEach(handle)))
    const serve = Effect.sync(() => (streaming = true)).pipe(
      Effect.andThen(serveOnce),
      Effect.exit,
      Effect.tap((exit) =>
        Effect.sync(() => (streaming = false)).pipe(
          Effect.andThen(
            Exit.isFailure(exit)
              ? Effect.logError("convos message stream stopped; restarting it", exit.cause)
              : Effect.logWarning("convos message stream ended; restarting it"),
          ),
        ),
      ),
      Effect.repeat(reconnectSchedule(options.reconnect)),
    )
    const streamFiber = yield* serve.pipe(Effect.forkIn(scope))
    yield* Scope.addFinalizer(scope, Fiber.interrupt(streamFiber))

    const rotateInvite = () =>
      Effect.gen(function* () {
        const conversationId = state.conversationId
        if (!conversationId || !state.inviteTag)
          return yield* new NoOwnConversation({
            message:
              "This agent has no invite of its own: it joined someone else's conversation, or left its own (ask that conversation's owner for an invite).",
          })
        const tag = randomTag()
        // Only the tag changes: the group's image key (and anything else in its metadata) stays.
        const group = yield* client.conversation(conversationId).pipe(Effect.mapError(messagingFailure))
        const appData = Option.isSome(group) ? group.value.appData : null
        yield* client
          .updateGroup(conversationId, { appData: updateMetadata(appData, { tag }) })
          .pipe(Effect.mapError(messagingFailure))
        const slug = createInviteSlug(identity, { conversationId, tag, name: state.agentName })
        const inviteUrl = inviteUrlBase(messaging.network, options.inviteBaseUrl) + slug
        yield* save({ ...state, inviteUrl, inviteTag: tag })
        return { inviteUrl }
      })

    const leaving: LeaveDeps = { state: () => state, save, client, ownClients }

    return ConvosAgent.of({
      conversations: listConversations(leaving),
      leave: (conversationId) => leaveConversation(leaving, conversationId),
      rotateInvite,
      identity,
      state: Effect.sync(() => state),
      provision,
      update,
      createConversation: (name, instructions) => createOwn(name, instructions ?? ""),
      join: (url) => join(url),
      sendText: (conversationId, text) =>
        (ownClients.get(conversationId) ?? client)
          .sendText(conversationId, text)
          .pipe(Effect.mapError(messagingFailure)),
      streaming: () => streaming,
    })
  })
