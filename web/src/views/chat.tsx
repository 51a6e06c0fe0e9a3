/** @jsxImportSource hono/jsx */
import type { ChatView } from "../chat/DevnetChat.ts"
import { Layout } from "./layout.tsx"

// The devnet chat: the page holds the send form; the messages live in an iframe that refreshes itself every 2 s,
// so the page stays live without client JS and the text being typed is never lost to a reload.

export const ChatPage = (props: { readonly view: ChatView }) => {
  const c = encodeURIComponent(props.view.conversationId)
  return (
    <Layout meta={{ title: `${props.view.title} · devnet chat` }}>
      <h1>{props.view.title}</h1>
      <p class="note">Devnet chat in the browser: you take part as your own web identity, as a phone would.</p>
      <iframe class="messages" title="messages" src={`/chat/messages?c=${c}`}></iframe>
      <form method="post" action="/chat/send">
        <input type="hidden" name="c" value={props.view.conversationId} />
        <input
          type="text"
          name="text"
          required
          maxlength={4000}
          autocomplete="off"
          aria-label="Message"
          placeholder="Write a message"
          autofocus
        />
        <button class="button" type="submit">
          Send
        </button>
      </form>
    </Layout>
  )
}

export const ChatMessages = (props: { readonly view: ChatView }) => (
  <Layout meta={{ title: "messages", refresh: 2 }} bare>
    <ul class="chat framed" id="messages">
      {props.view.lines.length === 0 ? <li class="system">No messages yet.</li> : null}
      {props.view.lines.map((l) =>
        l.system ? (
          <li class="system">{l.text}</li>
        ) : (
          <li class={l.mine ? "mine" : "theirs"} data-sender={l.senderName}>
            <span class="who">{l.senderName}</span>
            <span class="text">{l.text}</span>
          </li>
        ),
      )}
    </ul>
  </Layout>
)

export const ChatPending = (props: { readonly inviteUrl: string }) => (
  <Layout meta={{ title: "Waiting to join · devnet chat", refresh: 3 }}>
    <h1>Waiting to be let in</h1>
    <p>The owner of this conversation has not let you in yet. This page tries again every few seconds.</p>
    <p class="note">
      Invite: <code>{props.inviteUrl}</code>
    </p>
  </Layout>
)
