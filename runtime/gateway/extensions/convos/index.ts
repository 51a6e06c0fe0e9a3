// OpenClaw entry of the `convos` channel plugin. Glue only: the Convos logic (ConvosAgent, the HTTP contract) lives
// in runtime/src and imports only the messaging and contract packages (never the pool).
//
// Why runtime/src is loaded with tsx at run time instead of a static import: OpenClaw copies ("captures") a local
// plugin's whole static import graph before loading it and refuses to load it if any of those files or directories
// changes meanwhile. A static import would pull runtime/src and messaging into that graph; keeping the graph to
// these two files makes the load independent of edits elsewhere in the repository, and runtime/src runs from its
// real path (CONVOS_RUNTIME_ROOT, set by `runtime start`).
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { tsImport } from "tsx/esm/api"
import { createChannelPluginBase, createChatChannelPlugin } from "openclaw/plugin-sdk/channel-core"
import { emptyPluginConfigSchema } from "openclaw/plugin-sdk/core"
import { channelReadyPatch } from "openclaw/plugin-sdk/gateway-runtime"
import { waitUntilAbort } from "openclaw/plugin-sdk/channel-outbound"
import { dispatchToAgent } from "./dispatch.ts"

const CHANNEL = "convos"
const SHARED = Symbol.for("@convos-agents/runtime/convos-plugin")
/** Model provider id written by runtime/src/config/openclawConfig.ts (MODEL_PROVIDER_ID). */
const MODEL_PROVIDER_ID = "convos-openrouter"
/**
 * The typed service tools (runtime/src/config/openclawConfig.ts AGENT_SERVICE_TOOLS and this plugin's manifest
 * contracts.tools; a test checks all three agree). Implemented in runtime/src/plugin/agentServices.ts.
 */
const AGENT_SERVICE_TOOLS = ["send_email", "list_emails", "send_sms", "wallet_address"]
/** The instance HTTP contract (runtime/src/http/routes.ts ROUTES; a test checks both lists agree). */
const ROUTES = ["/pool/health", "/pool/provision", "/pool/agent", "/convos/status", "/convos/conversation", "/convos/join"]

interface ConvosRuntime {
  start(): Promise<void>
  stop(): Promise<void>
  sendText(conversationId: string, text: string): Promise<string>
  handle(req: unknown, res: unknown): Promise<boolean>
  serviceTool(name: string): unknown | null
}

const runtimeRoot = () => process.env.CONVOS_RUNTIME_ROOT || fileURLToPath(new URL("../../../", import.meta.url))

const loadConvosRuntime = async (shared: { api: any }): Promise<ConvosRuntime> => {
  const url = pathToFileURL(join(runtimeRoot(), "src", "plugin", "convosRuntime.ts")).href
  type Module = { createConvosRuntime?: (options: any) => ConvosRuntime; default?: Module; "openclaw:async-commonjs"?: Module }
  const imported = (await tsImport(url, import.meta.url)) as Module
  // Inside the gateway OpenClaw's module hooks transpile the file and wrap its namespace (see its worker.mjs).
  const loaded = imported["openclaw:async-commonjs"] ?? imported
  const createConvosRuntime = loaded.createConvosRuntime ?? loaded.default?.createConvosRuntime
  if (!createConvosRuntime) throw new Error(`${url} does not export createConvosRuntime (got: ${Object.keys(loaded).join(",")}; default: ${Object.keys(loaded.default ?? {}).join(",")})`)
  return createConvosRuntime({
    env: process.env,
    dispatch: (message: any, reply: (text: string) => Promise<void>) =>
      dispatchToAgent(shared.api.runtime, message, reply, (line) => shared.api.logger?.warn?.(`[convos] ${line}`)),
    // A key given at provision reaches the agent through a config hot reload: wait for it before the first turn.
    modelConfigured: () => !!shared.api.runtime.config.current()?.models?.providers?.[MODEL_PROVIDER_ID],
    log: (line: string) => shared.api.logger?.info?.(`[convos] ${line}`),
  })
}

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
    const shared: { api: any; convos: Promise<ConvosRuntime> | null; loaded: ConvosRuntime | null } = ((globalThis as any)[SHARED] ??= { api, convos: null, loaded: null })
    if (!api.registrationMode || api.registrationMode === "full") shared.api = api
    const convos = () =>
      (shared.convos ??= loadConvosRuntime(shared).then(
        (runtime) => (shared.loaded = runtime),
        (e) => {
          shared.convos = null // let the channel's auto-restart try again
          throw e
        }
      ))

    const plugin = createChatChannelPlugin({
      base: {
        ...createChannelPluginBase({
          id: CHANNEL,
          meta: { id: CHANNEL, label: "Convos", selectionLabel: "Convos", docsPath: "/channels/convos", blurb: "Convos group chats" },
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
          sendText: async ({ to, text }: { to: string; text: string }) => ({ messageId: await (await convos()).sendText(stripTarget(to), text) }),
        },
        base: { deliveryMode: "direct" },
      } as any,
    } as any)

    api.registerChannel({ plugin })
    // Factories: OpenClaw asks at every turn, and a tool exists only while the agent holds its service (the runtime
    // asks the pool's GET /api/agent-services/me): a model never sees a tool the agent cannot use.
    for (const name of AGENT_SERVICE_TOOLS) api.registerTool(() => shared.loaded?.serviceTool(name) ?? null, { name })
    if (api.registrationMode && api.registrationMode !== "full") return
    for (const path of ROUTES) {
      api.registerHttpRoute({ path, auth: "plugin", match: "exact", handler: async (req: any, res: any) => (await convos()).handle(req, res) })
    }
  },
}
