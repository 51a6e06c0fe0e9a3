// Runs the ConvosAgent in its own Effect runtime and exposes what the HTTP routes and the OpenClaw plugin need as
// promises. Messaging comes from the environment (DEVNET_URL → devnet, XMTP_ENV → XMTP) unless a layer is given.
import { Effect, Exit, Layer, ManagedRuntime } from "effect"
import { type Messaging, messagingLayerFromEnv } from "@convos-agents/pool-core/messaging"
import { ConvosAgent, type ConvosAgentOptions } from "./ConvosAgent.ts"
import { NotReady, type RouteDeps } from "../http/routes.ts"

export interface AgentHost {
  readonly ready: () => boolean
  /** Resolves when the messaging account is live; rejects if connecting failed. */
  readonly whenReady: Promise<void>
  readonly run: RouteDeps["runAgent"]
  readonly dispose: () => Promise<void>
}

export const startAgentHost = (options: ConvosAgentOptions & { readonly messaging?: Layer.Layer<Messaging, unknown> }): AgentHost => {
  const layer = ConvosAgent.layer(options).pipe(Layer.provide(options.messaging ?? messagingLayerFromEnv))
  const runtime = ManagedRuntime.make(layer as Layer.Layer<ConvosAgent, unknown>)
  let live = false
  const whenReady = runtime.runPromise(Effect.gen(function* () { yield* ConvosAgent })).then(() => {
    live = true
  })
  whenReady.catch(() => {})
  const run: RouteDeps["runAgent"] = async (f) => {
    if (!live) return Exit.fail(new NotReady())
    return runtime.runPromiseExit(Effect.gen(function* () { return yield* f(yield* ConvosAgent) })) as never
  }
  return {
    ready: () => live,
    whenReady,
    run,
    dispose: () => {
      live = false
      return runtime.dispose()
    },
  }
}

