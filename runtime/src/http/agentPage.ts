// The agent's own page (the seed's web-tools extension), served by the runtime on the same port as the instance
// contract: a landing page with the invite link and its QR code (installable: web manifest + icon), and a services
// page with the agent's email address, phone number, spend against its cap and a "request more" button that reaches
// the owner in their manager chat (through the pool's agent service API: POST /api/agent-services/request-more).
// Only a link signed with the instance's page key and not expired opens them (contract/pageLink.ts); anything else gets
// a refusal page that says why. The icon alone is public (it says nothing).
import type { IncomingMessage, ServerResponse } from "node:http"
import { Exit } from "effect"
import { AGENT_PAGE_PATH, AGENT_SERVICES_PAGE_PATH, agentPageQuery, checkAgentPageLink } from "@convos-agents/contract"
import type { ConvosAgent } from "../agent/ConvosAgent.ts"
import { callService, fetchHeldServices, type ServiceEndpoint } from "../plugin/agentServices.ts"
import type { RouteDeps } from "./routes.ts"
import {
  ICON_PATH,
  ICON_SVG,
  landingHtml,
  MANIFEST_PATH,
  manifestJson,
  REQUEST_MORE_PATH,
  refusalHtml,
  servicesHtml,
} from "./agentPageViews.ts"

export const PAGE_ROUTES = [
  AGENT_PAGE_PATH,
  AGENT_SERVICES_PAGE_PATH,
  MANIFEST_PATH,
  ICON_PATH,
  REQUEST_MORE_PATH,
] as const

/** One "request more" per this many ms: the owner is asked once, not once per click. */
export const REQUEST_MORE_EVERY_MS = 10 * 60_000

export interface AgentPageDeps {
  readonly token: string | null
  readonly runAgent: RouteDeps["runAgent"]
  /** The pool's agent service API; null when the pool gave the agent none (no email, phone, spend or request). */
  readonly services: () => ServiceEndpoint | null
  readonly now?: () => number
}

const send = (res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}) => {
  res.statusCode = status
  res.setHeader("content-type", type)
  // Signed pages carry the owner's data: never cached, never framed, never sent on as a referrer.
  res.setHeader("cache-control", "no-store")
  res.setHeader("referrer-policy", "no-referrer")
  res.setHeader("x-frame-options", "DENY")
  for (const [k, v] of Object.entries(extra)) res.setHeader(k, v)
  res.end(body)
}
const HTML = "text/html; charset=utf-8"

const usd = (n: number) => `$${n.toFixed(2)}`
const spendLine = (spend: unknown): string => {
  if (spend === null || spend === undefined) return "no spending key (nothing spent)"
  if (spend === "unavailable") return "unavailable right now (OpenRouter did not answer)"
  const s = spend as { usedUsd?: unknown; limitUsd?: unknown; limitReset?: unknown }
  if (typeof s.usedUsd !== "number") return "unknown"
  if (typeof s.limitUsd !== "number") return `${usd(s.usedUsd)} (no cap)`
  return `${usd(s.usedUsd)} of ${usd(s.limitUsd)}${typeof s.limitReset === "string" ? ` (resets ${s.limitReset})` : ""}`
}

/** Handles one request; false when the path is not the page's. */
export const makeAgentPageHandler = (deps: AgentPageDeps) => {
  const now = deps.now ?? Date.now
  let askedAt: number | null = null

  const agentName = async () => {
    const exit = await deps.runAgent((a: ConvosAgent["Service"]) => a.state)
    return Exit.isSuccess(exit) ? exit.value : null
  }

  const servicesPage = async (res: ServerResponse, query: string, notice: string | null, refused: boolean) => {
    const state = await agentName()
    const endpoint = deps.services()
    let email: string | null = null
    let phone: string | null = null
    let spend = "unknown: this agent has no connection to the pool's services"
    if (endpoint) {
      const [held, spent] = await Promise.allSettled([
        fetchHeldServices(endpoint),
        callService(endpoint, "GET", "/api/agent-services/spend"),
      ])
      if (held.status === "fulfilled") {
        email = held.value.email?.address ?? null
        phone = held.value.phone?.number ?? null
      }
      spend =
        spent.status === "fulfilled"
          ? spendLine(spent.value.spend)
          : `unknown right now (${spent.reason instanceof Error ? spent.reason.message : String(spent.reason)})`
    }
    send(
      res,
      200,
      HTML,
      servicesHtml({ agentName: state?.agentName ?? "Agent", email, phone, spend, query, notice, refused }),
    )
  }

  const requestMore = async (): Promise<{ notice: string; refused: boolean }> => {
    const endpoint = deps.services()
    if (!endpoint)
      return { notice: "This agent has no connection to the pool, so nobody could be asked.", refused: true }
    if (askedAt !== null && now() - askedAt < REQUEST_MORE_EVERY_MS) {
      const minutes = Math.ceil((REQUEST_MORE_EVERY_MS - (now() - askedAt)) / 60_000)
      return { notice: `The owner was asked already; you can ask again in ${minutes} minute(s).`, refused: true }
    }
    try {
      await callService(endpoint, "POST", "/api/agent-services/request-more", {})
      askedAt = now()
      return { notice: "Asked: the owner got your request in their manager chat.", refused: false }
    } catch (e) {
      return { notice: `Not sent: ${e instanceof Error ? e.message : String(e)}`, refused: true }
    }
  }

  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? "/", "http://agent")
    const path = url.pathname
    if (!(PAGE_ROUTES as ReadonlyArray<string>).includes(path)) return false
    const method = req.method ?? "GET"
    if (path === ICON_PATH) {
      send(res, 200, "image/svg+xml", ICON_SVG)
      return true
    }
    const check = checkAgentPageLink(deps.token, url.searchParams, now())
    if (!check.ok) {
      send(res, 403, HTML, refusalHtml(check.reason))
      return true
    }
    // Links between the pages carry the same signature and expiry (no new link is minted here).
    const query = agentPageQuery(deps.token!, check.expiresAtSeconds)
    const wants = path === REQUEST_MORE_PATH ? "POST" : "GET"
    if (method !== wants) {
      send(res, 405, "text/plain; charset=utf-8", `${path} accepts ${wants} only.`, { allow: wants })
      return true
    }
    switch (path) {
      case AGENT_PAGE_PATH: {
        const state = await agentName()
        send(
          res,
          200,
          HTML,
          await landingHtml({ agentName: state?.agentName ?? "Agent", inviteUrl: state?.inviteUrl ?? null, query }),
        )
        return true
      }
      case MANIFEST_PATH: {
        const state = await agentName()
        send(res, 200, "application/manifest+json", manifestJson(state?.agentName ?? "Agent", query))
        return true
      }
      case AGENT_SERVICES_PAGE_PATH:
        await servicesPage(res, query, null, false)
        return true
      case REQUEST_MORE_PATH: {
        for await (const _ of req) {
          // the form has no fields; drain it
        }
        const outcome = await requestMore()
        await servicesPage(res, query, outcome.notice, outcome.refused)
        return true
      }
    }
    return false
  }
}
