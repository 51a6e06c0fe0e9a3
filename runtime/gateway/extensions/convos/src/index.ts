// OpenClaw entry of the `convos` channel plugin. Glue only: the Convos logic (ConvosAgent, the HTTP contract) lives
// in runtime/src and imports only the messaging and contract packages (never the pool).
//
// Compiled ahead of time (scripts/build-runtime.mjs → ../dist/index.js, what package.json points OpenClaw at): one
// file with runtime/src, messaging and effect bundled in. OpenClaw copies ("captures") a local plugin's static import
// graph before loading it; a single built file keeps that graph to itself, and no TypeScript loader runs in the agent.
import { createChannelPluginBase, createChatChannelPlugin } from "openclaw/plugin-sdk/channel-core"
import { emptyPluginConfigSchema } from "openclaw/plugin-sdk/core"
import { channelReadyPatch } from "openclaw/plugin-sdk/gateway-runtime"
import { waitUntilAbort } from "openclaw/plugin-sdk/channel-outbound"
import { type ConvosRuntime, createConvosRuntime } from "../../../../src/plugin/convosRuntime.ts"
import { AGENT_SERVICE_TOOLS, MODEL_PROVIDER_ID } from "../../../../src/config/openclawConfig.ts"
import { ROUTES } from "../../../../src/http/routes.ts"
import { PAGE_ROUTES } from "../../../../src/http/agentPage.ts"
import { outsideRequestWork } from "./admission.ts"
import { dispatchToAgent } from "./dispatch.ts"

const CHANNEL = "convos"
const SHARED = Symbol.for("@convos-agents/runtime/convos-plugin")

const loadConvosRuntime = async (shared: { api: any }): Promise<ConvosRuntime> =>
  createConvosRuntime({
    env: process.env,
    // A turn is the message's own work: never the HTTP request's that opened the stream it came on (a conversation
    // made by POST /convos/conversation), which OpenClaw refuses as draining once that request has ended (admission.ts).
    dispatch: (message, reply, accepted) => {
      const warn = (line: string) => shared.api.logger?.warn?.(`[convos] ${line}`)
      return outsideRequestWork(() => dispatchToAgent(shared.api.runtime, message, reply, warn, accepted), warn)
    },
    // A key given at provision reaches the agent through a config hot reload: wait for it before the first turn.
    modelConfigured: () => !!shared.api.runtime.config.current()?.models?.providers?.[MODEL_PROVIDER_ID],
    log: (line: string) => shared.api.logger?.info?.(`[convos] ${line}`),
  })

const stripTarget = (to: string) => to.replace(/^convos:/, "").replace(/^group:/, "")

export default {
  id: CHANNEL,
  name: "Convos",
  description: "Convos channel and instance HTTP contract",
  configSchema: emptyPluginConfigSchema(),
  register(api: any) {
    // One agent per gateway process. OpenClaw may register the plugin more than once (discovery + full, and again on
    // a hot reload, from a fresh module instance), so the runtime lives on globalThis and only the `api` it
    // dispatches through is refreshed: a second registration must not open a second message stream.
    const shared: { api: any; convos: Promise<ConvosRuntime> | null; loaded: ConvosRuntime | null } = ((
      globalThis as any
    )[SHARED] ??= { api, convos: null, loaded: null })
    if (!api.registrationMode || api.registrationMode === "full") shared.api = api
    const convos = () =>
      (shared.convos ??= loadConvosRuntime(shared).then(
        (runtime) => (shared.loaded = runtime),
        (e) => {
          shared.convos = null // let the channel's auto-restart try again
          throw e
        },
      ))

    const plugin = createChatChannelPlugin({
      base: {
        ...createChannelPluginBase({
          id: CHANNEL,
          meta: {
            id: CHANNEL,
            label: "Convos",
            selectionLabel: "Convos",
            docsPath: "/channels/convos",
            blurb: "Convos group chats",
          },
          capabilities: { chatTypes: ["group"] },
          config: {
            listAccountIds: () => ["default"],
            resolveAccount: () => ({ accountId: "default", enabled: true, configured: true }),
            defaultAccountId: () => "default",
            inspectAccount: () => ({ enabled: true, configured: true }),
            isConfigured: () => true,
          },
          setup: { applyAccountConfig: ({ cfg }: any) => cfg },
        } as any),
        // /ready turns 200 only after this reports ready, i.e. once the messaging account is live. start() keeps
        // reconnecting (with backoff) until it is; a stop of the account meanwhile (restart, shutdown) stops it.
        gateway: {
          startAccount: async (ctx: any) => {
            const runtime = await convos()
            const signal: AbortSignal | undefined = ctx.abortSignal
            const aborted = new Promise<false>((resolve) => {
              if (signal?.aborted) resolve(false)
              signal?.addEventListener("abort", () => resolve(false), { once: true })
            })
            const live = await Promise.race([runtime.start().then(() => true as const), aborted])
            if (!live || signal?.aborted) {
              await runtime.stop()
              return
            }
            ctx.setStatus?.(channelReadyPatch({ accountId: ctx.accountId }))
            return waitUntilAbort(ctx.abortSignal, async () => {
              await runtime.stop()
            })
          },
        },
        messaging: {
          targetPrefixes: [CHANNEL],
          normalizeTarget: (raw: string) => stripTarget(raw),
          targetResolver: { looksLikeId: (raw: string) => stripTarget(raw).length > 0, hint: "<conversationId>" },
        },
      } as any,
      outbound: {
        attachedResults: {
          channel: CHANNEL,
          sendText: async ({ to, text }: { to: string; text: string }) => ({
            messageId: await (await convos()).sendText(stripTarget(to), text),
          }),
        },
        base: { deliveryMode: "direct" },
      } as any,
    } as any)

    api.registerChannel({ plugin })
    // Factories: OpenClaw asks at every turn, and a tool exists only while the agent holds its service (the runtime
    // asks the pool's GET /api/agent-services/me): a model never sees a tool the agent cannot use.
    for (const name of AGENT_SERVICE_TOOLS) api.registerTool(() => shared.loaded?.serviceTool(name) ?? null, { name })
    if (api.registrationMode && api.registrationMode !== "full") return
    for (const path of [...ROUTES, ...PAGE_ROUTES]) {
      api.registerHttpRoute({
        path,
        auth: "plugin",
        match: "exact",
        handler: async (req: any, res: any) => (await convos()).handle(req, res),
      })
    }
  },
}
