// Layer for the XMTP adapter: XMTP_ENV=dev|production, databases under XMTP_DB_DIR (default $DATA_DIR/xmtp), kept
// across restarts. Per-identity key and db path/encryption key can also be passed to connect() (ConnectOptions).
import { Config, Effect, Layer } from "effect"
import { DataDir } from "@convos-agents/contract"
import { join, resolve } from "node:path"
import { MessagingError } from "../errors.ts"
import { Messaging } from "../Messaging.ts"
import { makeXmtpMessaging } from "./XmtpMessaging.ts"

export const xmtpSettingsConfig = Effect.gen(function* () {
  const env = yield* Config.Literals(["dev", "production"], "XMTP_ENV")
  const dataDir = yield* DataDir
  const dbDir = yield* Config.String("XMTP_DB_DIR").pipe(Config.withDefault(join(dataDir, "xmtp")))
  const apiUrl = yield* Config.option(Config.String("XMTP_API_URL"))
  return { env, dbDir: resolve(dbDir), ...(apiUrl._tag === "Some" ? { apiUrl: apiUrl.value } : {}) }
}).pipe(
  Effect.mapError(
    (e) =>
      new MessagingError({
        reason: "invalid",
        message: `XMTP configuration: ${e.message}. XMTP_ENV must be "dev" or "production".`,
      }),
  ),
)

export const XmtpMessaging = {
  layer: Layer.effect(Messaging, Effect.map(xmtpSettingsConfig, makeXmtpMessaging)),
} as const
