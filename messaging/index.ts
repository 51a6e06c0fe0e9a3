// Public entry of `@convos-agents/pool-core/messaging`. runtime/ imports only this: keep it free of pool/db imports.
export * from "./Messaging.ts"
export * from "./errors.ts"
export * from "./identity.ts"
export { DevnetMessaging, connectDevnet, devnetUrlFile, devnetUrlConfig, makeDevnetMessaging } from "./devnet/DevnetMessaging.ts"
export { DevnetServer, startDevnetServer, type DevnetServerOptions, type RunningDevnet } from "./devnet/server.ts"
export { embeddedDevnetLayer } from "./devnet/embedded.ts"
export { embeddedMessagingLayer, messagingLayerFromEnv } from "./layers.ts"
// The one agent name rule (docs/security.md, "One name rule"): the runtime checks names with it; it imports nothing of the pool.
export { AGENT_NAME_MAX_CHARS, AgentName, agentNameForDisplay, agentNameIssue, normalizeAgentName } from "../domain/names.ts"
