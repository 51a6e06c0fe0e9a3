// Inbound Convos text → one OpenClaw agent turn → reply text back to the conversation, through OpenClaw's supported
// channel inbound API (openclaw 2026.9.6, docs/plugins/sdk-channel-inbound.md + sdk-channel-ingress.md):
//
//   runtime.channel.inbound.run({ channel, accountId, raw, adapter: { ingest, resolveTurn } })
//     resolveTurn: routing.resolveAgentRoute → inbound.ingress.resolveStable (the channel ingress resolver, bound to the
//     final agent/session/message) → inbound.buildContext({ channelIngress: <that exact result> }) → a routed plan;
//     core then records the inbound session and dispatches the reply through `delivery.deliver`.
//
// This replaces the deprecated channel.reply.finalizeInboundContext, channel.session.resolveStorePath and
// channel.session.recordInboundSession (compat record "plugin-runtime-api-compat-aliases", removal review 2026-10-01).
// Nothing is declared at registration: the "ingress resolver" is the per-message runtime call above. For a plugin
// loaded from a local path (not bundled, not a trusted official install) OpenClaw hands out the policy-only resolver
// and the plain context builder (dist/loader-runtime-load-*.mjs resolveRecordChannelRuntime), so participant identity
// evidence is not minted; admission is still decided by it. Convos groups are open: every member may talk to the agent.
import type { OpenClawConfig, PluginRuntime } from "openclaw/plugin-sdk/core"
import type { InboundText } from "../../../../src/agent/ConvosAgent.ts"

const CHANNEL = "convos"
const ACCOUNT_ID = "default"
/** Senders are XMTP inbox ids (stable; the transport signs messages with the inbox's keys). */
const SENDER_IDENTITY = { key: "inbox-id", entryIdPrefix: "convos-entry", sensitivity: "pii" } as const

export interface DispatchOutcome {
  /** Reply payloads delivered to the conversation. */
  readonly delivered: number
  /** The agent chose not to answer (a valid outcome in group chats). */
  readonly silent: boolean
  /**
   * Core handed the message to the session's run in progress (queued as its follow-up, or steered into it: e.g. the
   * turn OpenClaw's restart recovery resumes): that run answers it, through the channel's outbound sendText.
   */
  readonly deferred?: boolean
}

/**
 * `reply` rejects when the text could not be sent: `deliver` then rejects too (as OpenClaw's delivery contract asks,
 * docs/plugins/sdk-channel-inbound.md "Reject deliver … when native delivery fails"), the payload is not counted as
 * delivered, and the caller's retry/apology path runs.
 */
export const dispatchToAgent = async (
  runtime: PluginRuntime,
  message: InboundText,
  reply: (text: string) => Promise<void>,
  log: (line: string) => void = () => {},
  /**
   * Called when core takes the turn over (its plan is built; core records the session next): from then on OpenClaw's
   * own restart recovery resumes the turn if the gateway restarts in the middle of it (docs/gateway/restart-recovery.md),
   * so the channel must not replay the message itself.
   */
  accepted: () => void = () => {},
): Promise<DispatchOutcome> => {
  const inbound = runtime.channel.inbound
  let delivered = 0
  const result = await inbound.run({
    channel: CHANNEL,
    accountId: ACCOUNT_ID,
    raw: message,
    adapter: {
      ingest: (m: InboundText) => ({ id: m.id, timestamp: m.sentAt.getTime(), rawText: m.text, raw: m }),
      resolveTurn: async () => {
        // A read-only snapshot; OpenClaw's own helpers take the mutable type but do not write to it.
        const cfg = runtime.config.current() as OpenClawConfig
        const route = runtime.channel.routing.resolveAgentRoute({
          cfg,
          channel: CHANNEL,
          accountId: ACCOUNT_ID,
          peer: { kind: "group", id: message.conversationId },
        })
        const ingress = await inbound.ingress.resolveStable({
          channelId: CHANNEL,
          accountId: route.accountId,
          cfg,
          identity: SENDER_IDENTITY,
          subject: { stableId: message.senderInboxId },
          conversation: { kind: "group", id: message.conversationId },
          contextBinding: {
            agentId: route.agentId,
            sessionKey: route.sessionKey,
            messageId: message.id,
            inboundEventKind: "user_request",
          },
          dmPolicy: "disabled",
          groupPolicy: "open",
        })
        // Cannot happen with an open group policy; fail loudly (the caller logs it and apologises) rather than go quiet.
        if (ingress.ingress.admission !== "dispatch")
          throw new Error(
            `channel ingress did not admit message ${message.id}: ${ingress.ingress.admission} (${ingress.ingress.reasonCode})`,
          )
        const label = `Convos ${message.conversationId.slice(0, 8)}`
        const ctxPayload = inbound.buildContext({
          channel: CHANNEL,
          accountId: route.accountId,
          messageId: message.id,
          timestamp: message.sentAt.getTime(),
          from: `${CHANNEL}:${message.senderInboxId}`,
          sender: { id: message.senderInboxId, name: message.senderInboxId.slice(0, 10) },
          conversation: { kind: "group", id: message.conversationId, label },
          route: {
            agentId: route.agentId,
            dmScope: route.dmScope,
            accountId: route.accountId,
            routeSessionKey: route.sessionKey,
          },
          reply: { to: `${CHANNEL}:${message.conversationId}`, originatingTo: `${CHANNEL}:${message.conversationId}` },
          message: { rawBody: message.text, commandBody: message.text },
          channelIngress: ingress,
          // A conversation's own instructions go to the model as its group system prompt (trusted: set by the owner
          // through the instance contract, never by chat members).
          ...(message.instructions ? { supplemental: { groupSystemPrompt: message.instructions } } : {}),
          // The label is ours, not the group's name: keep it out of the prompt's group_subject (as before the migration).
          extra: { GroupSubject: undefined },
        })
        accepted()
        return {
          cfg,
          channel: CHANNEL,
          accountId: route.accountId,
          route: { agentId: route.agentId, dmScope: route.dmScope, sessionKey: route.sessionKey },
          ctxPayload,
          record: { onRecordError: () => {} },
          delivery: {
            deliver: async (payload: { text?: string }) => {
              if (!payload.text?.trim()) return { visibleReplySent: false }
              await reply(payload.text) // rejects when sending failed: not delivered
              delivered++
            },
            onError: (err: unknown) =>
              log(
                `delivering the reply to message ${message.id} failed: ${err instanceof Error ? err.message : String(err)}`,
              ),
          },
        }
      },
    },
  })
  return {
    delivered,
    silent: result.dispatched && result.dispatchResult?.deliberateSilentTerminalReply === true,
    deferred: result.dispatched && result.dispatchResult?.deferredToActiveRun !== undefined,
  }
}
