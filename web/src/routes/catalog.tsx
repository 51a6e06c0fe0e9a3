/** @jsxImportSource hono/jsx */
import { randomBytes } from "node:crypto"
import type { Context, Hono } from "hono"
import { Pool, type Template } from "@convos-agents/pool-core"
import type { Shared } from "../app.tsx"
import { slugPattern } from "../slug.ts"
import { makeOgImages } from "../og.ts"
import { HomePage, StartPage, TemplatePage, type InviteBox } from "../views/pages.tsx"

// Home (manager invite + template grid with category pills), template page (+ OG image), and /start/:slug, the
// manager chat with a template preselected.

/** A per-render, per-form token: the idempotency key of a launch or join, so a double submit claims one agent, not two. */
export const formNonce = () => randomBytes(12).toString("base64url")

/** What the manager-chat QR of a template points at, and the hint shown beside it. */
const startFor = async (s: Shared, t: Template): Promise<{ start: InviteBox | null; hint: string }> => {
  const dedicated = s.deps.templateInviteUrl?.(t.slug) ?? null
  const url = dedicated ?? s.deps.managerInviteUrl()
  return {
    start: url ? await s.invite(url) : null,
    hint: dedicated
      ? `The manager opens with ${t.name} selected.`
      : `In the manager chat, send /new ${t.slug} to set up ${t.name}.`,
  }
}

export const registerCatalog = (app: Hono, s: Shared) => {
  const templates = () => s.pool(Pool.use((p) => p.templates))
  const template = (slug: string) => s.pool(Pool.use((p) => p.template(slug)))
  const ogImages = makeOgImages()

  app.get("/", async (c) => {
    const all = await templates()
    if (all._tag === "Failure")
      return s.fail(c, 503, "Catalog unavailable", `${all.failure.message} Reload the page in a moment.`)
    const categories = [...new Set(all.success.map((t) => t.category))].sort()
    const wanted = c.req.query("category") ?? null
    if (wanted !== null && !categories.includes(wanted)) {
      return s.fail(
        c,
        404,
        "No such category",
        `There is no category "${wanted}". Pick one of: ${categories.join(", ")}.`,
      )
    }
    const shown = wanted === null ? all.success : all.success.filter((t) => t.category === wanted)
    const managerUrl = s.deps.managerInviteUrl()
    const manager = managerUrl ? await s.invite(managerUrl) : null
    return c.html(
      <HomePage
        templates={shown}
        categories={categories}
        active={wanted}
        manager={manager}
        devnet={s.deps.network === "devnet"}
        nonce={formNonce()}
      />,
    )
  })

  type Loaded =
    | { readonly error: null; readonly template: Template }
    | { readonly error: "bad" | "missing" | "down"; readonly message?: string }
  /** The template of :slug, or why there is none (answered with missing()). */
  const load = async (slug: string): Promise<Loaded> => {
    if (!slugPattern.test(slug) || slug.length > 100) return { error: "bad" }
    const found = await template(slug)
    if (found._tag === "Failure")
      return found.failure._tag === "InvalidRequest"
        ? { error: "missing" }
        : { error: "down", message: found.failure.message }
    return { error: null, template: found.success }
  }
  const missing = (c: Context, r: { readonly error: "bad" | "missing" | "down"; readonly message?: string }) =>
    r.error === "bad"
      ? s.fail(
          c,
          400,
          "Not a template address",
          "Template addresses look like /t/trip-planner (lowercase letters, digits and dashes). Pick one from the catalog.",
        )
      : r.error === "missing"
        ? s.fail(
            c,
            404,
            "Template not found",
            "There is no template with this name (it may have been renamed). Pick one from the catalog.",
          )
        : s.fail(c, 503, "Catalog unavailable", `${r.message} Reload the page in a moment.`)

  app.get("/t/:slug", async (c) => {
    const r = await load(c.req.param("slug"))
    if (r.error !== null) return missing(c, r)
    const { start, hint } = await startFor(s, r.template)
    return c.html(
      <TemplatePage
        template={r.template}
        start={start}
        hint={hint}
        devnet={s.deps.network === "devnet"}
        origin={s.origin(c)}
        launchNonce={formNonce()}
        joinNonce={formNonce()}
      />,
    )
  })

  app.get("/t/:slug/og.png", async (c) => {
    const r = await load(c.req.param("slug"))
    if (r.error !== null) return missing(c, r)
    const png = await ogImages.png(r.template)
    return c.body(png, 200, { "content-type": "image/png", "cache-control": "public, max-age=3600" })
  })

  app.get("/start/:slug", async (c) => {
    const r = await load(c.req.param("slug"))
    if (r.error !== null) return missing(c, r)
    const { start, hint } = await startFor(s, r.template)
    return c.html(<StartPage template={r.template} start={start} hint={hint} devnet={s.deps.network === "devnet"} />)
  })
}
