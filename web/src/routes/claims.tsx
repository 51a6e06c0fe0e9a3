/** @jsxImportSource hono/jsx */
import { Duration, Effect, Option, Schema } from "effect"
import type { Context, Hono } from "hono"
import { Pool, type ClaimRequest, webAddressKey, webOwner } from "@convos-agents/pool-core"
import { InviteError, parseInvite } from "@convos-agents/messaging/convos"
import { LIMITS, TemplateSlug } from "@convos-agents/contract"
import type { Shared } from "../app.tsx"
import { slugPattern } from "../slug.ts"
import { LaunchedPage } from "../views/pages.tsx"

// Launch (claim an agent of a template, which creates its conversation) and "Join my conversation" (claim an agent
// that joins the visitor's conversation). Both go through Pool.claim, which validates again, and are rate-limited per
// visitor. The result lives at /a/:id, visible only to the visitor who claimed it (post/redirect/get: a reload never
// claims again). Each form carries its own token and the claim key names the action, so a Join sent from a page whose
// Launch was already used is a new claim, never a replay of that launch.

const Nonce = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{8,64}$/))
// The form token is required: it is the claim's idempotency key, and a post without one comes from no page of ours.
const LaunchForm = Schema.Struct({ nonce: Nonce })
export const JoinForm = Schema.Struct({
  invite: Schema.String.check(Schema.isMaxLength(LIMITS.urlChars)),
  template: Schema.optional(TemplateSlug.check(Schema.isPattern(slugPattern))),
  nonce: Nonce,
})

const owner = webOwner

type Action = "launch" | "join"

/** "24 hours", "90 minutes": WEB_AGENT_TTL as a visitor reads it. */
const inWords = (d: Duration.Duration) => {
  const minutes = Math.round(Duration.toMillis(d) / 60_000)
  if (minutes % 60 === 0 && minutes >= 60) return `${minutes / 60} hour${minutes === 60 ? "" : "s"}`
  return `${Math.max(1, minutes)} minute${minutes === 1 ? "" : "s"}`
}

export const registerClaims = (app: Hono, s: Shared) => {
  const claim = async (
    c: Context,
    action: Action,
    req: Omit<ClaimRequest, "key" | "claimedBy">,
    nonce: string,
    back: string,
  ) => {
    const visitor = s.visitor(c)
    const ip = s.ip(c)
    const verdict = s.limiter.hit([`ip:${ip}`, `visitor:${visitor}`])
    if (!verdict.allowed) {
      c.header("Retry-After", String(verdict.retryAfterSeconds))
      const minutes = Math.ceil(verdict.retryAfterSeconds / 60)
      return s.fail(
        c,
        429,
        "Slow down",
        `You have launched several agents in a short time. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
        back,
      )
    }
    // AGENTS_PER_OWNER holds for this browser and for its address (a fresh cookie does not reset it).
    const result = await s.pool(
      Pool.use((p) =>
        p.claim({
          ...req,
          key: `web:${visitor}:${action}:${nonce}`,
          claimedBy: owner(visitor),
          quotaKeys: [webAddressKey(ip)],
        }),
      ),
    )
    if (result._tag === "Success") return c.redirect(`/a/${encodeURIComponent(result.success.instance.id)}`, 303)
    const e = result.failure
    switch (e._tag) {
      case "NoAgentAvailable":
        return s.fail(c, 503, "No agent free right now", e.message, back)
      case "InvalidRequest":
        return s.fail(c, 400, "That did not work", e.message, back)
      case "QuotaExceeded": {
        const ttl = await s.pool(Pool.use((p) => Effect.succeed(p.quotas.webAgentTtl)))
        const after =
          ttl._tag === "Success" && Duration.toMillis(ttl.success) > 0
            ? ` Each agent launched here is released ${inWords(ttl.success)} after its launch; try again then,`
            : " Try again later,"
        return s.fail(
          c,
          429,
          "You have enough agents for now",
          `This browser (or your network) already has ${e.limit} agents running, the most one visitor can have.${after} or get an agent through the manager chat.`,
          back,
        )
      }
      case "ProvisionFailed":
        return s.fail(
          c,
          502,
          "The agent could not be set up",
          `${e.message} Try again: a fresh agent will be used.`,
          back,
        )
      default:
        return s.fail(c, 503, "Service unavailable", `${e.message} Try again in a moment.`, back)
    }
  }

  app.post("/t/:slug/launch", async (c) => {
    const slug = c.req.param("slug")
    if (!slugPattern.test(slug))
      return s.fail(c, 400, "Not a template address", "Pick a template from the catalog and press Launch there.")
    const posted = await s.form(c, `/t/${slug}`)
    if (!posted.ok) return posted.response
    const body = s.decode(LaunchForm, posted.value)
    if (Option.isNone(body))
      return s.fail(
        c,
        400,
        "Bad form",
        "The launch form was damaged or came without its token. Reload the template page and press Launch again.",
        `/t/${slug}`,
      )
    const known = await s.pool(Pool.use((p) => p.template(slug)))
    if (known._tag === "Failure")
      return s.fail(c, 404, "Template not found", "There is no template with this name. Pick one from the catalog.")
    return claim(c, "launch", { templateSlug: slug }, body.value.nonce, `/t/${slug}`)
  })

  app.post("/join", async (c) => {
    const posted = await s.form(c)
    if (!posted.ok) return posted.response
    const body = s.decode(JoinForm, posted.value)
    const back = body.pipe(
      Option.flatMap((b) => Option.fromUndefinedOr(b.template)),
      Option.match({ onNone: () => "/", onSome: (t) => `/t/${t}` }),
    )
    if (Option.isNone(body)) {
      return s.fail(
        c,
        400,
        "Bad form",
        "Paste the whole invite link of your Convos conversation (at most 4096 characters) into the form on this site's page and send it from there (the form carries a token).",
        back,
      )
    }
    const { invite, template, nonce } = body.value
    try {
      parseInvite(invite) // the same checks a joiner makes: a real, signed, unexpired Convos invite
    } catch (e) {
      if (!(e instanceof InviteError)) throw e
      return s.fail(c, 400, "That is not a usable invite link", e.message, back)
    }
    if (template) {
      const known = await s.pool(Pool.use((p) => p.template(template)))
      if (known._tag === "Failure")
        return s.fail(c, 404, "Template not found", "There is no template with this name. Pick one from the catalog.")
    }
    return claim(c, "join", { joinUrl: invite.trim(), ...(template ? { templateSlug: template } : {}) }, nonce, back)
  })

  app.get("/a/:id", async (c) => {
    const id = c.req.param("id")
    const notYours = () =>
      s.fail(
        c,
        404,
        "Agent not found",
        "This agent does not exist or was launched from another browser. Launch one from the catalog.",
      )
    if (id.length > 100) return notYours()
    const found = await s.pool(Pool.use((p) => p.get(id)))
    if (found._tag === "Failure" || found.success.claimedBy !== owner(s.visitor(c))) return notYours()
    const agent = found.success
    const templates = await s.pool(Pool.use((p) => p.templates))
    const template =
      templates._tag === "Success" ? (templates.success.find((t) => t.slug === agent.templateSlug) ?? null) : null
    const joined = agent.joinUrl !== null
    const inviteUrl = joined ? null : agent.inviteUrl
    const chatInvite = joined ? agent.joinUrl : agent.inviteUrl
    return c.html(
      <LaunchedPage
        template={template}
        agentName={agent.agentName ?? template?.name ?? "Your agent"}
        invite={inviteUrl ? await s.invite(inviteUrl) : null}
        joined={joined}
        devnet={s.deps.network === "devnet"}
        chatUrl={chatInvite && s.deps.chat ? `/chat?invite=${encodeURIComponent(chatInvite)}` : null}
      />,
    )
  })
}
