// Inbound Convos text → one OpenClaw agent turn → reply text back to the conversation. This is the channel reply
// path verified on openclaw 2026.9.6 (see shared/research/openclaw-runtime.md §3); those helpers are marked
// deprecated-but-kept, the replacement (runtime.channel.inbound.run) needs a channel ingress resolver.
/** Shape of runtime/src/agent/ConvosAgent.ts InboundText (kept local: see index.ts on the import graph). */
interface InboundText {
  readonly id: string
  readonly conversationId: string
  readonly senderInboxId: string
  readonly text: string
  readonly sentAt: Date
}

const CHANNEL = "convos"

export interface DispatchOutcome {
  /** Reply payloads delivered to the conversation. */
  readonly delivered: number
  /** The agent chose not to answer (a valid outcome in group chats). */
  readonly silent: boolean
}

export const dispatchToAgent = async (runtime: any, message: InboundText, reply: (text: string) => Promise<void>): Promise<DispatchOutcome> => {
  let delivered = 0
  const cfg = runtime.config.current()
  const route = runtime.channel.routing.resolveAgentRoute({ cfg, channel: CHANNEL, accountId: "default", peer: { kind: "group", id: message.conversationId } })
  const storePath = runtime.channel.session.resolveStorePath(cfg.session?.store, { agentId: route.agentId })
  const ctx = runtime.channel.reply.finalizeInboundContext({
    Body: message.text,
    RawBody: message.text,
    CommandBody: message.text,
    From: `${CHANNEL}:${message.senderInboxId}`,
    To: `${CHANNEL}:${message.conversationId}`,
    SessionKey: route.sessionKey,
    AccountId: route.accountId,
    ChatType: "group",
    ConversationLabel: `Convos ${message.conversationId.slice(0, 8)}`,
    SenderName: message.senderInboxId.slice(0, 10),
    SenderId: message.senderInboxId,
    Provider: CHANNEL,
    Surface: CHANNEL,
    MessageSid: message.id,
    Timestamp: message.sentAt.getTime(),
    OriginatingChannel: CHANNEL,
    OriginatingTo: `${CHANNEL}:${message.conversationId}`,
  })
  await runtime.channel.session.recordInboundSession({ storePath, sessionKey: ctx.SessionKey, ctx, onRecordError: () => {} })
  const result = await runtime.channel.reply.dispatchReplyWithBufferedBlockDispatcher({
    ctx,
    cfg,
    dispatcherOptions: {
      deliver: async (payload: { text?: string }) => {
        if (payload.text && payload.text.trim()) {
          delivered++
          await reply(payload.text)
        }
      },
      onError: () => {},
    },
  })
  return { delivered, silent: result?.deliberateSilentTerminalReply === true }
}
