// Runs the ConvosAgent in its own Effect scope and exposes what the HTTP routes and the OpenClaw plugin need as
// promises. Messaging comes from the environment (DEVNET_URL → devnet, XMTP_ENV → XMTP) unless a layer is given.
//
// Connecting is retried with a Schedule (exponential backoff, capped) until it works or the host is disposed: one
// failed boot connect (network down, devnet not up yet) must not leave the instance dead while its channel reports
// ready. `ready()` is true only while the agent is connected AND its message stream is running.
import { Cause, Context, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { type Messaging, messagingLayerFromEnv } from "@convos-agents/messaging"
import { ConvosAgent, type ConvosAgentOptions } from "./ConvosAgent.ts"
import { NotReady, type RouteDeps } from "../http/routes.ts"
import { reconnectSchedule } from "./reconnect.ts"

export type { ReconnectPolicy } from "./reconnect.ts"

export interface AgentHost {
  readonly ready: () => boolean
  /** Resolves when the messaging account is live (after as many reconnects as it takes); rejects only on dispose. */
  readonly whenReady: Promise<void>
  readonly run: RouteDeps["runAgent"]
  readonly dispose: () => Promise<void>
}

export const startAgentHost = (
  options: ConvosAgentOptions & {
    readonly messaging?: Layer.Layer<Messaging, unknown>
    readonly log?: (line: string) => void
  },
): AgentHost => {
  const log = options.log ?? (() => {})
  const layer = ConvosAgent.layer(options).pipe(
    Layer.provide(options.messaging ?? messagingLayerFromEnv),
  ) as Layer.Layer<ConvosAgent, unknown>
  let agent: ConvosAgent["Service"] | null = null
  let scope: Scope.Closeable | null = null
  let attempts = 0

  // One attempt = a fresh scope and a fresh layer build; a failed attempt closes what it opened.
  const connectOnce = Effect.gen(function* () {
    attempts++
    const s = yield* Scope.make()
    const context = yield* Layer.buildWithScope(layer, s).pipe(
      Effect.catchDefect((defect) => Effect.fail(defect)),
      Effect.onError(() => Scope.close(s, Exit.void)),
    )
    return { scope: s, agent: Context.get(context, ConvosAgent) }
  })

  const connected = connectOnce.pipe(
    Effect.tapError((e) =>
      Effect.sync(() =>
        log(
          `messaging connect attempt ${attempts} failed (${e instanceof Error ? e.message : String((e as { message?: unknown })?.message ?? e)}); retrying`,
        ),
      ),
    ),
    Effect.retry(reconnectSchedule(options.reconnect)),
    Effect.tap((c) =>
      Effect.sync(() => {
        scope = c.scope
        agent = c.agent
      }),
    ),
  )
  const fiber = Effect.runFork(connected)
  const whenReady = Effect.runPromise(Fiber.join(fiber)).then(
    () => undefined,
    (e) => {
      throw Cause.isCause(e) ? new Error(Cause.pretty(e)) : e
    },
  )
  whenReady.catch(() => {})

  const run: RouteDeps["runAgent"] = async (f) => {
    const a = agent
    if (!a) return Exit.fail(new NotReady())
    return Effect.runPromiseExit(f(a)) as never
  }
  return {
    ready: () => agent?.streaming() === true,
    whenReady,
    run,
    dispose: async () => {
      const s = scope
      agent = null
      scope = null
      await Effect.runPromise(Fiber.interrupt(fiber))
      if (s) await Effect.runPromise(Scope.close(s, Exit.void))
    },
  }
}
