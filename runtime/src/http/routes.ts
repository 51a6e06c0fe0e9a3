// The instance HTTP contract (DESIGN.md "Runtime contract"), as plain node handlers so the same code is mounted on the
// OpenClaw gateway (plugin routes) and on a bare http server in tests. Everything but /pool/health needs the bearer;
// /pool/health says readiness to anyone and adds the conversation and invite only for the bearer.
import type { IncomingMessage, ServerResponse } from "node:http"
import { Cause, Effect, Exit, Result } from "effect"
import type { ConvosAgent } from "../agent/ConvosAgent.ts"
import { bearerMatches } from "./auth.ts"
import {
  AgentPatchBody,
  AvatarNotPlaced,
  ConversationBody,
  JoinBody,
  LeaveBody,
  LIMITS,
  ProvisionBody,
} from "@convos-agents/contract"
import { decodeBody } from "./bodies.ts"

export interface RouteDeps {
  readonly token: string | null
  readonly version: string
  /** The messaging network the agent runs on (devnet, dev or production): a conversation's `env` must name it. */
  readonly network: string
  /** Whether the messaging account is live and the agent can take a provision. */
  readonly isReady: () => boolean
  /** Runs an effect against the live agent; rejects/fails with NotReady semantics when it is not up yet. */
  readonly runAgent: <A, E>(
    f: (agent: ConvosAgent["Service"]) => Effect.Effect<A, E>,
  ) => Promise<Exit.Exit<A, E | NotReady>>
  /** Applies provision-time env (provider keys) to the agent. Values are secrets: never logged. */
  readonly applyEnv: (env: Readonly<Record<string, string>>) => Promise<void>
}

export class NotReady {
  readonly _tag = "NotReady"
  readonly message = "The agent is still starting (messaging not connected yet). Retry in a few seconds."
}

export const ROUTES = [
  "/pool/health",
  "/pool/provision",
  "/pool/agent",
  "/convos/status",
  "/convos/conversation",
  "/convos/join",
  "/convos/invite",
  "/convos/conversations",
  "/convos/leave",
] as const

const send = (res: ServerResponse, status: number, body: unknown) => {
  res.statusCode = status
  res.setHeader("content-type", "application/json; charset=utf-8")
  if (status === 503) res.setHeader("retry-after", "2")
  res.end(JSON.stringify(body))
}

const MAX_BODY = 256 * 1024
/** PATCH /pool/agent may carry a profile picture (base64 of up to LIMITS.avatarBytes). */
const MAX_AGENT_BODY = Math.ceil(LIMITS.avatarBytes / 3) * 4 + 64 * 1024

const readJson = async (
  req: IncomingMessage,
  max = MAX_BODY,
): Promise<{ ok: true; value: unknown } | { ok: false; reason: string }> => {
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > max) return { ok: false, reason: `body is larger than ${max} bytes` }
    chunks.push(chunk as Buffer)
  }
  const text = Buffer.concat(chunks).toString("utf8")
  if (text.trim() === "") return { ok: false, reason: "body is empty; send a JSON object" }
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch {
    return { ok: false, reason: "body is not valid JSON" }
  }
}

const statusOf = (error: unknown): number => {
  const tag = (error as { _tag?: string })?._tag
  switch (tag) {
    case "AlreadyProvisioned":
      return 409
    case "BadInvite":
      return 400
    case "JoinRejected":
      return 422
    case "NoOwnConversation":
      return 409
    case "UnknownConversation":
      return 404
    case "CannotLeave":
      return 409
    case "NotReady":
      return 503
    case "MessagingUnavailable":
    case "AvatarUnavailable":
    case "AvatarNotPlaced":
      return 502
    default:
      return 500
  }
}

const sendExit = <A>(res: ServerResponse, exit: Exit.Exit<A, unknown>, ok: (a: A) => unknown) => {
  if (Exit.isSuccess(exit)) return send(res, 200, ok(exit.value))
  const failure = Cause.findErrorOption(exit.cause)
  if (failure._tag === "Some") {
    const e = failure.value as { message?: string; field?: string; _tag?: string }
    return send(res, statusOf(e), {
      error: e.message ?? String(e),
      ...(e.field ? { field: e.field } : {}),
      code: e._tag,
      // How far the picture got (contract AvatarNotPlacedAnswer), for the owner's line.
      ...(e instanceof AvatarNotPlaced ? { reached: e.reached, total: e.total, reason: e.reason } : {}),
    })
  }
  return send(res, 500, { error: `Internal error: ${Cause.pretty(exit.cause).split("\n")[0]}` })
}

/** Handles one request; returns false when the path is not ours (so the host can fall through). */
export const handleContractRequest = async (
  req: IncomingMessage,
  res: ServerResponse,
  deps: RouteDeps,
): Promise<boolean> => {
  const path = (req.url ?? "/").split("?")[0]!
  const method = req.method ?? "GET"
  if (!(ROUTES as ReadonlyArray<string>).includes(path)) return false

  if (path === "/pool/health" && method === "GET") {
    // Readiness for anyone (a Railway agent has a public domain); the conversation and its invite (which lets anyone
    // join the agent's chat) only for the holder of the instance token, i.e. the pool recovering a claim.
    if (!bearerMatches(req, deps.token)) {
      send(res, 200, { ready: deps.isReady(), version: deps.version })
      return true
    }
    const exit = deps.isReady() ? await deps.runAgent((a) => a.state) : null
    const state = exit && Exit.isSuccess(exit) ? exit.value : null
    send(res, 200, {
      ready: deps.isReady(),
      version: deps.version,
      conversationId: state?.conversationId ?? null,
      inviteUrl: state?.inviteUrl ?? null,
    })
    return true
  }
  if (!bearerMatches(req, deps.token)) {
    send(res, 401, { error: "Missing or wrong bearer token: send Authorization: Bearer <instance token>." })
    return true
  }
  const expect = (m: string) => {
    if (method === m) return true
    res.setHeader("allow", m)
    send(res, 405, { error: `${path} accepts ${m} only.` })
    return false
  }
  const body = async <S extends Parameters<typeof decodeBody>[0]>(schema: S) => {
    const raw = await readJson(req, path === "/pool/agent" ? MAX_AGENT_BODY : MAX_BODY)
    if (!raw.ok) {
      send(res, 400, { error: `Invalid request: ${raw.reason}.`, field: "body", reason: raw.reason })
      return null
    }
    const decoded = decodeBody(schema, raw.value)
    if (Result.isFailure(decoded)) {
      send(res, 400, {
        error: `Invalid request: ${decoded.failure.field}: ${decoded.failure.reason}`,
        field: decoded.failure.field,
        reason: decoded.failure.reason,
      })
      return null
    }
    return decoded.success as S["Type"]
  }

  switch (path) {
    case "/pool/provision": {
      if (!expect("POST")) return true
      const b = await body(ProvisionBody)
      if (!b) return true
      if (b.env && Object.keys(b.env).length > 0) {
        const current = await deps.runAgent((a) => a.state)
        if (Exit.isSuccess(current) && !current.value.provisioned) await deps.applyEnv(b.env)
      }
      sendExit(res, await deps.runAgent((a) => a.provision(b)), (r) => r)
      return true
    }
    case "/pool/agent": {
      if (!expect("PATCH")) return true
      const b = await body(AgentPatchBody)
      if (!b) return true
      sendExit(res, await deps.runAgent((a) => a.update(b)), (s) => ({
        ok: true,
        agentName: s.agentName,
        model: s.model ?? null,
      }))
      return true
    }
    case "/convos/status": {
      if (!expect("GET")) return true
      sendExit(
        res,
        await deps.runAgent((a) => Effect.map(a.state, (s) => ({ s, inboxId: a.identity.inboxId }))),
        ({ s, inboxId }) => ({
          ready: deps.isReady(),
          inboxId,
          agentName: s.agentName,
          provisioned: s.provisioned,
          conversationId: s.conversationId,
          inviteUrl: s.inviteUrl,
          conversations: s.conversations,
        }),
      )
      return true
    }
    case "/convos/conversation": {
      if (!expect("POST")) return true
      const b = await body(ConversationBody)
      if (!b) return true
      // The agent runs on one network; a request for another is refused rather than silently ignored.
      if (b.env !== undefined && b.env !== deps.network) {
        send(res, 400, {
          error: `env: this agent runs on the ${deps.network} network; omit env or send "${deps.network}".`,
          field: "env",
        })
        return true
      }
      sendExit(res, await deps.runAgent((a) => a.createConversation(b.name, b.instructions)), (r) => r)
      return true
    }
    case "/convos/invite": {
      if (!expect("POST")) return true
      sendExit(res, await deps.runAgent((a) => a.rotateInvite()), (r) => r)
      return true
    }
    case "/convos/conversations": {
      if (!expect("GET")) return true
      sendExit(res, await deps.runAgent((a) => a.conversations), (conversations) => ({ conversations }))
      return true
    }
    case "/convos/leave": {
      if (!expect("POST")) return true
      const b = await body(LeaveBody)
      if (!b) return true
      sendExit(res, await deps.runAgent((a) => a.leave(b.conversationId)), (r) => r)
      return true
    }
    case "/convos/join": {
      if (!expect("POST")) return true
      const b = await body(JoinBody)
      if (!b) return true
      sendExit(res, await deps.runAgent((a) => a.join(b.inviteUrl)), (r) => r)
      return true
    }
  }
  return false
}
