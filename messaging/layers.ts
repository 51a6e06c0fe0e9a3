// Choosing the messaging network from the environment.
//   XMTP_ENV=dev|production → XMTP (node-sdk, loaded lazily)
//   otherwise               → devnet client: DEVNET_URL, else the URL `npm start` wrote to $DATA_DIR/devnet.url
// `embeddedMessagingLayer` is for the one process that hosts the devnet (`npm start`): with neither XMTP_ENV nor
// DEVNET_URL it starts the devnet server itself. Agent runtimes and chat clients use `messagingLayerFromEnv`, so they
// never start a private network by accident.
import { Config, Effect, Layer, Option } from "effect"
import { MessagingError } from "./errors.ts"
import { Messaging } from "./Messaging.ts"
import { DevnetMessaging } from "./devnet/DevnetMessaging.ts"
import { embeddedDevnetLayer } from "./devnet/embedded.ts"

const xmtpEnv = Config.option(Config.String("XMTP_ENV")).pipe(
  Effect.mapError((e) => new MessagingError({ reason: "invalid", message: `XMTP_ENV: ${e.message}` })),
)

// Imported on demand so devnet users never evaluate the XMTP adapter module (it only type-imports the SDK, but stays out of the graph).
const xmtpLayer = Layer.unwrap(
  Effect.promise(() => import("./xmtp/layer.ts")).pipe(Effect.map((m) => m.XmtpMessaging.layer)),
)

export const messagingLayerFromEnv: Layer.Layer<Messaging, MessagingError> = Layer.unwrap(
  Effect.map(xmtpEnv, (env) => (Option.isSome(env) && env.value !== "" ? xmtpLayer : DevnetMessaging.layer)),
)

export const embeddedMessagingLayer: Layer.Layer<Messaging, unknown> = Layer.unwrap(
  Effect.gen(function* () {
    const env = yield* xmtpEnv
    if (Option.isSome(env) && env.value !== "") return xmtpLayer
    const url = yield* Config.option(Config.String("DEVNET_URL"))
    return Option.isSome(url) ? DevnetMessaging.layer : embeddedDevnetLayer
  }),
)
