// Public entry of `@convos-agents/messaging`. runtime/ depends on this package alone (not on the pool): keep it free of
// pool/db imports.
export * from "./Messaging.ts"
export * from "./errors.ts"
export * from "./identity.ts"
export {
  DevnetMessaging,
  connectDevnet,
  devnetUrlFile,
  devnetUrlConfig,
  makeDevnetMessaging,
} from "./devnet/DevnetMessaging.ts"
export { DevnetServer, startDevnetServer, type DevnetServerOptions, type RunningDevnet } from "./devnet/server.ts"
export { embeddedDevnetLayer } from "./devnet/embedded.ts"
export { embeddedMessagingLayer, messagingLayerFromEnv } from "./layers.ts"
export { messagesReceived, messagesSent, messagingErrors, metered } from "./metered.ts"
