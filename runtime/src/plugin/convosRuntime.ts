// What the OpenClaw plugin runs inside the gateway process, without any openclaw import (so it is testable on a
// plain http server): the agent host (messaging + Convos), the HTTP contract, the "no model configured" guard and
// provision-time env (secrets stored in <state>/.env, applied to process.env, config rewritten → OpenClaw hot-reloads).
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { IncomingMessage, ServerResponse } from "node:http"
import { Cause, Effect, Exit, type Layer } from "effect"
import type { Messaging } from "@convos-agents/messaging"
import type { InboundText } from "../agent/ConvosAgent.ts"
import { type AgentHost, type ReconnectPolicy, startAgentHost } from "../agent/AgentHost.ts"
import { applyRuntime } from "../config/apply.ts"
import { effectiveModel } from "../config/openclawConfig.ts"
import { greetingFor } from "../config/seedFiles.ts"
import { formatSecretsEnv, readSecretsEnv, runtimeRoot, secretsEnvPath, settingsFromEnv } from "../config/settings.ts"
import { handleContractRequest, NotReady, ROUTES, type RouteDeps } from "../http/routes.ts"
import { makeAgentPageHandler, PAGE_ROUTES } from "../http/agentPage.ts"
import { makeTurnQueue } from "../agent/turnQueue.ts"
import {
  type AgentServiceTool,
  agentServiceTools,
  fetchHeldServices,
  type HeldServices,
  NO_SERVICES,
  serviceEndpointFromEnv,
} from "./agentServices.ts"
import { makeImageUploader } from "./avatarUpload.ts"
import { makeModelProblemReporter, modelProblem } from "./modelFailure.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export const NO_MODEL_REPLY =
  "No model configured: this agent has no OpenRouter key yet (OPENROUTER_API_KEY), so it cannot think. Ask its owner to set one."

/** Tries of a turn that OpenClaw refused with an error (pauses 3, 6, 12, 24, 48 s between them). */
const TRIES_AFTER_ERROR = 6

/** The answer to a message that finds the agent's turn queue full (CONVOS_TURN_QUEUE). */
export const busyReply = (waiting: number) =>
  `I'm busy: ${waiting} earlier message(s) are waiting for my answer. Please send this one again in a minute.`

export const runtimeVersion = (): string => {
  try {
    return (JSON.parse(readFileSync(join(runtimeRoot(), "package.json"), "utf8")) as { version: string }).version
  } catch {
    return "0.0.0"
  }
}

export interface ConvosRuntimeOptions {
  /** The process env (mutated by provision-time env so the gateway's config substitution sees new keys). */
  readonly env: NodeJS.ProcessEnv
  /**
   * Runs one agent turn for the message and calls `reply` with each reply text; `accepted` once OpenClaw has taken the
   * turn over (its restart recovery resumes it from then on, so the channel does not replay it after a restart).
   */
  readonly dispatch: (
    message: InboundText,
    reply: (text: string) => Promise<void>,
    accepted: () => void,
  ) => Promise<{ readonly delivered: number; readonly silent: boolean; readonly deferred?: boolean }>
  /** Whether the running gateway already has the model provider (after a hot reload); default: always. */
  readonly modelConfigured?: () => boolean
  readonly log?: (line: string) => void
  /** Tests pass a devnet layer; the gateway uses DEVNET_URL / XMTP_ENV. */
  readonly messaging?: Layer.Layer<Messaging, unknown>
  /** Whether to rewrite openclaw.json after provision (off in tests without a gateway). Default true. */
  readonly rewriteConfig?: boolean
  /** Backoff for (re)connecting messaging. Default 1 s doubling to 30 s. */
  readonly reconnect?: ReconnectPolicy
  /** Pause before the second try of a turn that produced no reply. Default 3 s. */
  readonly retryDelayMs?: number
  /** How long what GET /api/agent-services/me said stays current before a turn asks again. Default 60 s. */
  readonly servicesMaxAgeMs?: number
}

export interface ConvosRuntime {
  readonly routes: ReadonlyArray<string>
  readonly start: () => Promise<void>
  readonly stop: () => Promise<void>
  readonly sendText: (conversationId: string, text: string) => Promise<string>
  readonly handle: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>
  /** The typed service tool of that name if the agent holds its service (as last asked of the pool), else null. */
  readonly serviceTool: (name: string) => AgentServiceTool | null
  /** Asks the pool again which services the agent holds; resolves with the answer (kept on failure). */
  readonly refreshServices: () => Promise<HeldServices>
}

export const createConvosRuntime = (options: ConvosRuntimeOptions): ConvosRuntime => {
  const env = options.env
  const settings = settingsFromEnv(env)
  const log = options.log ?? (() => {})
  let host: AgentHost | null = null

  // Which services the agent holds, as the pool's service API last said (GET /api/agent-services/me). Until it answers: none,
  // so the model never sees a tool the agent cannot use.
  let held: HeldServices = NO_SERVICES
  let heldAt = 0
  let tools: ReadonlyArray<AgentServiceTool> = []
  let refreshing: Promise<HeldServices> | null = null
  const refreshServices = (): Promise<HeldServices> =>
    (refreshing ??= (async () => {
      const endpoint = serviceEndpointFromEnv(env)
      if (!endpoint && heldAt === 0) log("no POOL_SERVICES_URL/INSTANCE_ID: this agent has no service tools")
      try {
        const next = endpoint ? await fetchHeldServices(endpoint) : NO_SERVICES
        const changed = JSON.stringify(next) !== JSON.stringify(held)
        held = next
        heldAt = Date.now()
        tools = endpoint ? agentServiceTools(endpoint, held) : []
        if (changed) {
          log(`services: ${tools.map((t) => t.name).join(", ") || "none"}`)
          rewrite() // AGENTS.md lists the tools the agent has now
        }
      } catch (e) {
        log(
          `asking the pool which services this agent holds failed (keeping the last answer): ${e instanceof Error ? e.message : String(e)}`,
        )
      }
      return held
    })().finally(() => {
      refreshing = null
    }))
  /** Before a turn: a fresh enough answer, or a new one; never waits more than a few seconds (the last answer stands). */
  const servicesCurrent = () =>
    Date.now() - heldAt < (options.servicesMaxAgeMs ?? 60_000)
      ? Promise.resolve(held)
      : Promise.race([refreshServices(), sleep(5_000).then(() => held)])

  const reportModelProblem = makeModelProblemReporter(() => serviceEndpointFromEnv(env), log)
  /** The model the agent thinks with now: its own (state) or the configured one. */
  const currentModel = async (h: AgentHost) => {
    const exit = await h.run((a) => a.state)
    const own = Exit.isSuccess(exit) ? (exit.value.model ?? null) : null
    return effectiveModel(settings, !!env.OPENROUTER_API_KEY, own)
  }

  /** Sends one reply; REJECTS when it could not be sent, so OpenClaw's delivery (and our retry) sees the failure. */
  const reply = (conversationId: string) => async (raw: string) => {
    const h = host
    if (!h) throw new Error(new NotReady().message)
    let text = raw
    if (raw.startsWith("⚠️")) {
      const model = await currentModel(h)
      const problem = modelProblem(raw, env, model)
      if (problem) {
        text = problem.line
        log(`model problem (${problem.kind}): ${raw.split("\n")[0]}`)
        void reportModelProblem({ ...problem, model })
      }
    }
    const exit = await h.run((a) => a.sendText(conversationId, text))
    if (Exit.isFailure(exit)) {
      const error = Cause.findErrorOption(exit.cause)
      const reason =
        error._tag === "Some"
          ? ((error.value as { message?: string }).message ?? String(error.value))
          : Cause.pretty(exit.cause).split("\n")[0]
      log(`reply to ${conversationId} could not be sent: ${reason}`)
      throw new Error(`sending the reply to ${conversationId} failed: ${reason}`)
    }
  }

  /** Best effort: the apology for a failed turn (if sending is what failed, this fails too; that is logged). */
  const apologize = (conversationId: string, text: string) => reply(conversationId)(text).catch(() => {})

  /**
   * One agent turn for the message: the model's answer, one retry when nothing was delivered, else an apology.
   * `answered` is called once OpenClaw took the turn over or its first reply went out: from then on the channel does
   * not replay the message after a restart (OpenClaw resumes a turn it took over itself; an answer cut off after its
   * first part is not given twice).
   */
  const runTurn = async (message: InboundText, answered: () => void) => {
    const send = reply(message.conversationId)
    const sendAndMark = async (text: string) => {
      await send(text)
      answered()
    }
    try {
      if (!env.OPENROUTER_API_KEY && !env.MODEL_BASE_URL) return await sendAndMark(NO_MODEL_REPLY)
      await servicesCurrent()
      const modelConfigured = options.modelConfigured ?? (() => true)
      for (let waited = 0; !modelConfigured() && waited < 30_000; waited += 250) await sleep(250)
      // A turn that lands while OpenClaw swaps its config, or whose reply could not be sent, ends without a
      // delivered reply: try once more after it settled. OpenClaw dedups inbound turns by message id (its
      // inbound-dedupe cache commits the id when a turn completes, for 20 minutes), so the same id would be
      // skipped as a duplicate: the second try carries a derived id. A turn OpenClaw refused outright is tried up to
      // TRIES_AFTER_ERROR times with doubling pauses (~1.5 min in all): just after a restart its own restart recovery
      // holds the session (and the old process's state lease) for a while, and a message the channel replays then is
      // refused ("restart recovery claim changed", "another OpenClaw process owns state-lifecycle").
      for (let attempt = 1; ; attempt++) {
        const turn = attempt === 1 ? message : { ...message, id: `${message.id}:retry-${attempt - 1}` }
        let refused = false
        const outcome = await options.dispatch(turn, sendAndMark, answered).catch((e: unknown) => {
          refused = true
          log(
            `agent turn for message ${message.id} failed (attempt ${attempt}): ${e instanceof Error ? e.message : String(e)}`,
          )
          return { delivered: 0, silent: false, deferred: false }
        })
        // Deferred: the session's run in progress answers it (a second try would be answered too: twice).
        if (outcome.delivered > 0 || outcome.silent || outcome.deferred) return
        log(`agent turn for message ${message.id} delivered no reply (attempt ${attempt})`)
        if (attempt >= (refused ? TRIES_AFTER_ERROR : 2)) break
        await sleep((options.retryDelayMs ?? 3_000) * 2 ** (attempt - 1))
      }
      await apologize(message.conversationId, "Sorry, I could not come up with an answer just now. Please try again.")
    } catch (e) {
      log(`agent turn for message ${message.id} failed: ${e instanceof Error ? e.message : String(e)}`)
      await apologize(message.conversationId, "Sorry, something went wrong while I was thinking. Please try again.")
    }
  }

  // Turns are bounded per agent: one at a time, oldest first, at most CONVOS_TURN_QUEUE waiting; beyond that the
  // sender is told at once that the agent is busy (nothing piles up without end).
  const turns = makeTurnQueue({
    maxWaiting: settings.turnQueue,
    onError: (e) => log(`agent turn failed: ${e instanceof Error ? e.message : String(e)}`),
  })
  // Completes once the message is dealt with (OpenClaw took its turn over, its first reply went out, its turn is over,
  // or it was refused as busy): until then, e.g. while it waits behind another turn, the agent's stream keeps it to be
  // replayed after a restart (ConvosAgent, agent/progress.ts).
  const onInbound = (message: InboundText) =>
    Effect.promise(
      () =>
        new Promise<void>((dealtWith) => {
          if (turns.offer(() => runTurn(message, dealtWith).finally(dealtWith))) return
          log(
            `agent busy: message ${message.id} refused (${turns.waiting()} turn(s) waiting, CONVOS_TURN_QUEUE=${settings.turnQueue})`,
          )
          void apologize(message.conversationId, busyReply(turns.waiting())).finally(dealtWith)
        }),
    )

  const applyEnv = async (vars: Readonly<Record<string, string>>) => {
    const merged = { ...readSecretsEnv(settings.stateDir), ...vars }
    writeFileSync(secretsEnvPath(settings.stateDir), formatSecretsEnv(merged), { mode: 0o600 })
    for (const [k, v] of Object.entries(vars)) env[k] = v
    if (!env.OPENROUTER_BASE_URL) env.OPENROUTER_BASE_URL = settings.openrouterBaseUrl
    log(`applied provision env: ${Object.keys(vars).sort().join(", ")}`) // names only, never values
  }

  function rewrite() {
    if (options.rewriteConfig === false) return
    applyRuntime(settings, env, held)
  }

  const runAgent: RouteDeps["runAgent"] = (f) => (host ? host.run(f) : Promise.resolve(Exit.fail(new NotReady())))
  // The agent's own page (invite QR, email, phone, spend, "request more"), opened by the owner's signed link.
  const page = makeAgentPageHandler({ token: settings.token, runAgent, services: () => serviceEndpointFromEnv(env) })

  return {
    routes: [...ROUTES, ...PAGE_ROUTES],
    start: async () => {
      // A host that is still connecting is awaited (it retries with backoff); only a stopped one is replaced. The
      // channel is reported ready only after this resolves, i.e. once messaging is live.
      if (host?.ready()) return
      host ??= startAgentHost({
        stateDir: settings.stateDir,
        defaults: { agentName: env.AGENT_NAME || settings.agentName, instructions: env.AGENT_INSTRUCTIONS || "" },
        onInbound,
        onProfileChanged: () => Effect.sync(rewrite),
        greeting: (name) => greetingFor(settings.workspaceDir, name),
        // The pool hosts the agent's encrypted profile pictures (through the same service API as its tools).
        ...(serviceEndpointFromEnv(env) ? { uploadImage: makeImageUploader(() => serviceEndpointFromEnv(env)) } : {}),
        ...(env.CONVOS_INVITE_BASE_URL ? { inviteBaseUrl: env.CONVOS_INVITE_BASE_URL } : {}),
        ...(env.CONVOS_JOIN_WAIT_MS ? { joinWaitMs: Number(env.CONVOS_JOIN_WAIT_MS) } : {}),
        ...(options.messaging ? { messaging: options.messaging } : {}),
        ...(options.reconnect ? { reconnect: options.reconnect } : {}),
        log,
      })
      await host.whenReady
      log("messaging account live")
      void refreshServices()
    },
    stop: async () => {
      const h = host
      host = null
      await h?.dispose()
    },
    sendText: async (conversationId, text) => {
      if (!host) throw new Error(new NotReady().message)
      const exit = await host.run((a) => a.sendText(conversationId, text))
      if (Exit.isFailure(exit)) throw new Error(`sending to ${conversationId} failed`)
      return exit.value
    },
    serviceTool: (name) => tools.find((t) => t.name === name) ?? null,
    refreshServices,
    handle: async (req, res) => {
      if (await page(req, res)) return true
      const handled = await handleContractRequest(req, res, {
        token: settings.token,
        version: runtimeVersion(),
        // As the messaging layer picks it (messaging/layers.ts): XMTP_ENV wins, else the devnet.
        network: env.XMTP_ENV || "devnet",
        isReady: () => host?.ready() ?? false,
        runAgent,
        applyEnv,
      })
      // A claim may have granted (or a release taken) services: ask again once the pool provisioned this agent.
      if (handled && (req.url ?? "").startsWith("/pool/provision") && res.statusCode === 200) void refreshServices()
      return handled
    },
  }
}
