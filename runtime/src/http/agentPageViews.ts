// The HTML of the agent's own page (agentPage.ts serves it): landing (invite link + QR), services (email, phone, spend
// against the cap, "request more"), the refusal page, the web manifest and the icon. Every value is escaped.
import QRCode from "qrcode"
import { AGENT_PAGE_PATH, AGENT_SERVICES_PAGE_PATH } from "@convos-agents/contract"

export const ICON_PATH = `${AGENT_PAGE_PATH}/icon.svg`
export const MANIFEST_PATH = `${AGENT_PAGE_PATH}/manifest.webmanifest`
export const REQUEST_MORE_PATH = `${AGENT_PAGE_PATH}/request-more`

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c)

const CSS = `body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#111}
h1{font-size:1.6rem}dl{display:grid;grid-template-columns:auto 1fr;gap:.4rem 1rem}dt{font-weight:600}
.qr{width:256px;height:256px}nav a{margin-right:1rem}.notice{padding:.6rem;border-radius:.4rem;background:#eef}
.refused{background:#fee}button{font-size:1rem;padding:.5rem 1rem}`

const layout = (title: string, body: string, query: string | null) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><meta name="theme-color" content="#3b5bdb"><meta name="robots" content="noindex">
${query === null ? "" : `<link rel="manifest" href="${MANIFEST_PATH}?${escapeHtml(query)}">`}
<link rel="icon" href="${ICON_PATH}" type="image/svg+xml"><style>${CSS}</style></head>
<body>${body}</body></html>`

const nav = (query: string) =>
  `<nav><a href="${AGENT_PAGE_PATH}?${escapeHtml(query)}">Invite</a><a href="${AGENT_SERVICES_PAGE_PATH}?${escapeHtml(query)}">Services</a></nav>`

export const landingHtml = async (o: { agentName: string; inviteUrl: string | null; query: string }) => {
  const invite = o.inviteUrl
    ? `<p>Scan the code, or open the link, to join ${escapeHtml(o.agentName)}'s conversation:</p>
<figure id="invite-qr">${(
        await QRCode.toString(o.inviteUrl, {
          type: "svg",
          margin: 4,
          width: 256,
          errorCorrectionLevel: "M",
          color: { dark: "#000000", light: "#ffffff" },
        })
      ).replace("<svg ", `<svg role="img" aria-label="Invite QR code" class="qr" `)}</figure>
<p><a id="invite-link" href="${escapeHtml(o.inviteUrl)}">${escapeHtml(o.inviteUrl)}</a></p>`
    : `<p class="notice">${escapeHtml(o.agentName)} joined a conversation by invite, so it has no invite of its own.</p>`
  return layout(o.agentName, `<h1>${escapeHtml(o.agentName)}</h1>${nav(o.query)}${invite}`, o.query)
}

export interface ServicesView {
  readonly agentName: string
  readonly email: string | null
  readonly phone: string | null
  /** "$1.23 of $5.00 (resets monthly)", "no cap", or why it is unknown. */
  readonly spend: string
  readonly query: string
  /** What the last "request more" did, shown once. */
  readonly notice: string | null
  readonly refused: boolean
}

export const servicesHtml = (v: ServicesView) =>
  layout(
    `${v.agentName}: services`,
    `<h1>${escapeHtml(v.agentName)}</h1>${nav(v.query)}
${v.notice ? `<p id="notice" class="notice${v.refused ? " refused" : ""}" role="status">${escapeHtml(v.notice)}</p>` : ""}
<dl><dt>Email</dt><dd id="email">${escapeHtml(v.email ?? "none")}</dd>
<dt>Phone</dt><dd id="phone">${escapeHtml(v.phone ?? "none")}</dd>
<dt>Spend</dt><dd id="spend">${escapeHtml(v.spend)}</dd></dl>
<form method="post" action="${REQUEST_MORE_PATH}?${escapeHtml(v.query)}">
<button type="submit" id="request-more">Request more</button></form>
<p>"Request more" asks the agent's owner, in their manager chat, for a higher spending cap.</p>`,
    v.query,
  )

const REFUSALS = {
  unsigned:
    "This page opens only from the link its owner gets with /agent <name> in the manager chat; this address has no signature.",
  tampered:
    "This link is not valid: it was changed, or it is not for this agent. Get a fresh one with /agent <name> in the manager chat.",
  expired: "This link has expired. Get a fresh one with /agent <name> in the manager chat.",
} as const

export const refusalHtml = (reason: keyof typeof REFUSALS) =>
  layout(
    "Link refused",
    `<h1>Link refused</h1><p id="refusal" class="notice refused" data-reason="${reason}">${escapeHtml(REFUSALS[reason])}</p>`,
    null,
  )

export const manifestJson = (agentName: string, query: string) =>
  JSON.stringify({
    name: agentName,
    short_name: agentName.slice(0, 12),
    description: `${agentName}: invite, email, phone and spend`,
    id: AGENT_PAGE_PATH,
    start_url: `${AGENT_PAGE_PATH}?${query}`,
    scope: `${AGENT_PAGE_PATH}`,
    display: "standalone",
    background_color: "#ffffff",
    theme_color: "#3b5bdb",
    icons: [
      { src: ICON_PATH, sizes: "any", type: "image/svg+xml", purpose: "any" },
      { src: ICON_PATH, sizes: "512x512", type: "image/svg+xml", purpose: "any" },
    ],
  })

export const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512" viewBox="0 0 512 512">
<rect width="512" height="512" rx="96" fill="#3b5bdb"/><circle cx="256" cy="220" r="110" fill="#fff"/>
<rect x="146" y="350" width="220" height="60" rx="30" fill="#fff"/></svg>`
