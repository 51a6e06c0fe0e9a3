// The chat loop shared by the CLI: send each input line as a text, print each incoming text as `<sender name>: <text>`,
// and after the input ends, return once nothing has arrived for `quietMs`.
import { Effect, Stream } from "effect"
import type { ChatMessage, MessagingClient } from "../Messaging.ts"
import type { MessagingError } from "../errors.ts"
import { shortInboxId } from "../convos/contentTypes.ts"

export interface ChatSessionOptions {
  readonly client: MessagingClient
  readonly conversationId: string
  readonly input: AsyncIterable<string>
  readonly print: (line: string) => void
  readonly quietMs: number
  /** Replay messages sent after this time (ms) before going live; default now. */
  readonly sinceMs?: number
  /** Reads a display name from a message (Convos profile_update); returns undefined for other messages. */
  readonly profileName?: (message: ChatMessage) => string | undefined
  /** Names already known (e.g. from a profile snapshot), by inbox id. */
  readonly names?: ReadonlyMap<string, string>
}

/**
 * `<name>: <text>` with the text's line breaks kept, as Convos shows them: each further line is indented under the
 * text, so lists read as lists and a script still finds every message by its unindented `<name>: ` line.
 */
export const formatMessage = (name: string, text: string) => {
  const [first = "", ...rest] = text.replace(/\r\n?/g, "\n").split("\n")
  const indent = " ".repeat(name.length + 2)
  return [`${name}: ${first}`, ...rest.map((line) => (line.length > 0 ? indent + line : ""))].join("\n")
}

export const runChatSession = (o: ChatSessionOptions): Effect.Effect<void, MessagingError> =>
  Effect.gen(function* () {
    const names = new Map(o.names ?? [])
    let lastActivity = Date.now()
    const onMessage = (m: ChatMessage) =>
      Effect.sync(() => {
        if (m.conversationId !== o.conversationId) return
        const profile = o.profileName?.(m)
        if (profile !== undefined) names.set(m.senderInboxId, profile)
        if (m.senderInboxId === o.client.inboxId || m.kind !== "application" || m.text === null) return
        lastActivity = Date.now()
        o.print(formatMessage(names.get(m.senderInboxId) ?? shortInboxId(m.senderInboxId), m.text))
      })
    yield* o.client
      .stream({ afterMs: o.sinceMs ?? Date.now() - 1 })
      .pipe(Stream.runForEach(onMessage), Effect.forkScoped)

    const iterator = o.input[Symbol.asyncIterator]()
    for (;;) {
      const next = yield* Effect.promise(() => iterator.next())
      if (next.done) break
      const text = next.value.trim()
      if (text === "") continue
      yield* o.client.sendText(o.conversationId, text)
      lastActivity = Date.now()
    }
    // Input ended: wait for replies until the conversation has been quiet for quietMs.
    for (;;) {
      const idle = Date.now() - lastActivity
      if (idle >= o.quietMs) return
      yield* Effect.sleep(`${o.quietMs - idle} millis`)
    }
  }).pipe(Effect.scoped)
