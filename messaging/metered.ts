import { Effect, Layer, Metric, Stream } from "effect"
import { Messaging, type MessagingClient } from "./Messaging.ts"

// Messaging metrics and spans around any Messaging layer (devnet or XMTP): messages sent and received, and failed
// operations by operation, as Effect Metrics (read at the pool's /metrics and over OTLP), and a span per send.
// Counts are per process: in `npm start` that is the manager bot's client.

export const messagesSent = Metric.counter("messaging_messages_sent_total", {
  description: "Messages sent by this process's messaging clients",
  incremental: true,
})
export const messagesReceived = Metric.counter("messaging_messages_received_total", {
  description: "Messages received on this process's message streams",
  incremental: true,
})
export const messagingErrors = Metric.counter("messaging_errors_total", {
  description: "Failed messaging operations, by operation",
  incremental: true,
})

const failed = (operation: string) => Metric.update(Metric.withAttributes(messagingErrors, { operation }), 1)

/** Counts a failure of `effect` under `operation` (the failure itself passes through unchanged). */
const watched = <A, E, R>(operation: string, effect: Effect.Effect<A, E, R>) =>
  Effect.tapError(effect, () => failed(operation))

const meterClient = (c: MessagingClient): MessagingClient => ({
  ...c,
  sendText: (conversationId, text) =>
    watched("send", c.sendText(conversationId, text)).pipe(
      Effect.tap(() => Metric.update(messagesSent, 1)),
      Effect.withSpan("messaging.send", { attributes: { "conversation.id": conversationId } }),
    ),
  send: (conversationId, content) =>
    watched("send", c.send(conversationId, content)).pipe(
      Effect.tap(() => Metric.update(messagesSent, 1)),
      Effect.withSpan("messaging.send", { attributes: { "conversation.id": conversationId } }),
    ),
  createGroup: (members, options) => watched("createGroup", c.createGroup(members, options)),
  conversation: (id) => watched("conversation", c.conversation(id)),
  members: (id) => watched("members", c.members(id)),
  addMembers: (id, inboxIds) => watched("addMembers", c.addMembers(id, inboxIds)),
  messages: (id, options) => watched("messages", c.messages(id, options)),
  stream: (options) =>
    c.stream(options).pipe(
      Stream.tap(() => Metric.update(messagesReceived, 1)),
      Stream.tapError(() => failed("stream")),
    ),
})

/** `layer` with every client it connects metered. */
export const metered = <E, R>(layer: Layer.Layer<Messaging, E, R>): Layer.Layer<Messaging, E, R> =>
  Layer.effect(
    Messaging,
    Effect.map(Messaging, (m) =>
      Messaging.of({
        ...m,
        connect: (identity, options) => Effect.map(watched("connect", m.connect(identity, options)), meterClient),
      }),
    ),
  ).pipe(Layer.provide(layer))
