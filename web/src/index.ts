// The web catalog: server-rendered pages (hono JSX) for templates, QR invites, launch/join and the devnet chat view.
export { makeWebApp } from "./app.tsx"
export {
  webDepsFromContext,
  webDepsFromRuntime,
  type ManagerBotLike,
  type Network,
  type RuntimeMount,
  type WebDeps,
  type WebFromContextOptions,
} from "./deps.ts"
export { makeDevnetChat, ChatError, type DevnetChat, type DevnetChatOptions } from "./chat/DevnetChat.ts"
export type { RateLimitOptions } from "@convos-agents/pool-core/api/rate-limit"
export { qrSvg } from "./qr.ts"
