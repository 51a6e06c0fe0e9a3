/** @jsxImportSource hono/jsx */
import { Effect, Option, Schema } from "effect"
import type { Context, Hono } from "hono"
import { InviteError, parseInvite } from "@convos-agents/messaging/convos"
import type { ChatError } from "../chat/DevnetChat.ts"
import type { Shared } from "../app.tsx"
import { ChatMessages, ChatPage, ChatPending } from "../views/chat.tsx"

// Devnet only: invite links of this app (/v2?i=<slug>, the devnet invite URL base) open the browser chat, where the
// visitor joins with their own web identity and can read and send messages. Joins are rate-limited per IP and per
// visitor like launches (each one may create a devnet identity); a bad invite is answered first and does not count,
// and retrying the same invite (the "waiting to be let in" page reloads itself) counts once.

const ConversationId = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(200))
const SendForm = Schema.Struct({
  c: ConversationId,
  text: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(4000)),
})

const statusOf = (e: ChatError) =>
  e.reason === "bad-invite" ? 400 : e.reason === "not-member" ? 403 : e.reason === "unavailable" ? 503 : 502
const titleOf = (e: ChatError) =>
  e.reason === "bad-invite"
    ? "That is not a usable invite link"
    : e.reason === "not-member"
      ? "Not in this conversation"
      : "The chat did not answer"

export const registerChat = (app: Hono, s: Shared) => {
  const chat = s.deps.chat
  const notHere = (c: Context) =>
    s.fail(
      c,
      404,
      "No browser chat here",
      "The browser chat exists only on the devnet. Open the invite link with the Convos app on your phone instead.",
    )

  // The devnet invite URL base (configure the runtime/manager with `<this origin>/v2?i=`): straight to the chat view.
  app.get("/v2", (c) => {
    const code = c.req.query("i")
    if (!chat) return notHere(c)
    if (!code)
      return s.fail(
        c,
        400,
        "Incomplete invite link",
        "This invite link has no code (…/v2?i=<code>). Copy the whole link again.",
      )
    return c.redirect(`/chat?invite=${encodeURIComponent(new URL(c.req.url).href)}`, 302)
  })

  app.get("/chat", async (c) => {
    if (!chat) return notHere(c)
    const visitor = s.visitor(c)
    const invite = c.req.query("invite")
    const conversation = c.req.query("c")
    if (invite !== undefined) {
      if (invite.length > 4096)
        return s.fail(c, 400, "That is not a usable invite link", "The link is too long to be a Convos invite.")
      let slug: string
      try {
        slug = parseInvite(invite).slug
      } catch (e) {
        if (!(e instanceof InviteError)) throw e
        return s.fail(c, 400, "That is not a usable invite link", e.message)
      }
      const verdict = s.chatLimiter.hitOnce(`${visitor}|${slug}`, [`ip:${s.ip(c)}`, `visitor:${visitor}`])
      if (!verdict.allowed) {
        c.header("Retry-After", String(verdict.retryAfterSeconds))
        const minutes = Math.ceil(verdict.retryAfterSeconds / 60)
        return s.fail(
          c,
          429,
          "Slow down",
          `You have opened several chats in a short time. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
        )
      }
      const joined = await Effect.runPromise(Effect.result(chat.join(visitor, invite)))
      if (joined._tag === "Failure")
        return s.fail(c, statusOf(joined.failure), titleOf(joined.failure), joined.failure.message)
      if (joined.success._tag === "Pending") return c.html(<ChatPending inviteUrl={invite} />, 202)
      return c.redirect(`/chat?c=${encodeURIComponent(joined.success.conversationId)}`, 303)
    }
    if (conversation === undefined || Option.isNone(s.decode(ConversationId, conversation))) {
      return s.fail(
        c,
        400,
        "Which conversation?",
        "Open the chat from an invite link (…/chat?invite=<link>): scan or click one on an agent's page.",
      )
    }
    const view = await Effect.runPromise(Effect.result(chat.view(visitor, conversation)))
    if (view._tag === "Failure") return s.fail(c, statusOf(view.failure), titleOf(view.failure), view.failure.message)
    return c.html(<ChatPage view={view.success} />)
  })

  app.get("/chat/messages", async (c) => {
    if (!chat) return notHere(c)
    const conversation = s.decode(ConversationId, c.req.query("c"))
    if (Option.isNone(conversation)) return s.fail(c, 400, "Which conversation?", "Open the chat from an invite link.")
    const view = await Effect.runPromise(Effect.result(chat.view(s.visitor(c), conversation.value)))
    if (view._tag === "Failure") return s.fail(c, statusOf(view.failure), titleOf(view.failure), view.failure.message)
    return c.html(<ChatMessages view={view.success} />)
  })

  app.post("/chat/send", async (c) => {
    if (!chat) return notHere(c)
    const posted = await s.form(c)
    if (!posted.ok) return posted.response
    const body = s.decode(SendForm, posted.value)
    if (Option.isNone(body))
      return s.fail(
        c,
        400,
        "Nothing to send",
        "Write a message (at most 4000 characters) and press Send. Use the back button to return to the chat.",
      )
    const sent = await Effect.runPromise(Effect.result(chat.send(s.visitor(c), body.value.c, body.value.text)))
    if (sent._tag === "Failure") return s.fail(c, statusOf(sent.failure), titleOf(sent.failure), sent.failure.message)
    return c.redirect(`/chat?c=${encodeURIComponent(body.value.c)}`, 303)
  })
}
