// When the model cannot be used, OpenClaw answers the person with its own warning: "⚠️ <provider>/<model> request
// failed (…)" for a server that does not answer, "⚠️ The configured model is unavailable from the provider …" for a
// model the server does not know (404), "⚠️ Authentication failed (provider returned HTTP 401) …" for a refused key.
// The person gets one line naming the model source and the reason instead, and the agent's owner is told through the
// pool (POST /api/agent-services/me/model-problem, a notice in their manager chat).
import { ENDPOINT_PROVIDER_ID, MODEL_PROVIDER_ID } from "../config/openclawConfig.ts"
import type { ServiceEndpoint } from "./agentServices.ts"

export type ModelProblemKind = "unreachable" | "unknown-model" | "refused-key"

export interface ModelProblem {
  readonly kind: ModelProblemKind
  /** The one line the person gets. */
  readonly line: string
}

const REFUSED_KEY = /authentication failed|\bHTTP 40[13]\b|\b40[13]\b.*(unauthori[sz]ed|forbidden)|invalid api key/i
const UNKNOWN_MODEL = /configured model is unavailable|model .*not found|unknown model|no such model|\bHTTP 404\b/i

/**
 * The problem behind one of OpenClaw's model warnings, or null when the text is something else (then it goes out as
 * it is). `model` is the model the agent thinks with now (its own or the configured one).
 */
export const modelProblem = (text: string, env: NodeJS.ProcessEnv, model: string | null): ModelProblem | null => {
  if (!text.startsWith("⚠️")) return null
  const openRouter = !!env.OPENROUTER_API_KEY
  if (!openRouter && !env.MODEL_BASE_URL) return null
  const source = openRouter ? "OpenRouter" : `The model server at ${env.MODEL_BASE_URL}`
  const provider = openRouter ? MODEL_PROVIDER_ID : ENDPOINT_PROVIDER_ID
  if (REFUSED_KEY.test(text))
    return { kind: "refused-key", line: `${source} refused my key, so I cannot think right now.` }
  if (UNKNOWN_MODEL.test(text))
    return {
      kind: "unknown-model",
      line: `${source} does not know the model ${model ?? env.MODEL ?? ""}, so I cannot think right now.`,
    }
  if (text.startsWith(`⚠️ ${provider}/`) && /request failed/i.test(text))
    return { kind: "unreachable", line: `${source} is not answering, so I cannot think right now.` }
  return null
}

/** The owner's notice is sent at most once per problem kind in this long (the person still gets every line). */
export const REPORT_EVERY_MS = 10 * 60_000

/**
 * Tells the pool (and through it the owner) about a model problem; best effort, at most once per kind every
 * REPORT_EVERY_MS. Resolves whether or not the pool answered.
 */
export const makeModelProblemReporter = (
  endpoint: () => ServiceEndpoint | null,
  log: (line: string) => void,
  now: () => number = Date.now,
) => {
  const last = new Map<ModelProblemKind, number>()
  return async (problem: ModelProblem & { readonly model: string | null }): Promise<void> => {
    const at = now()
    const before = last.get(problem.kind)
    if (before !== undefined && at - before < REPORT_EVERY_MS) return
    last.set(problem.kind, at)
    const e = endpoint()
    if (!e) return
    try {
      const res = await fetch(`${e.baseUrl}/api/agent-services/me/model-problem`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${e.token}`,
          "x-instance-id": e.instanceId,
          "content-type": "application/json",
        },
        body: JSON.stringify({ kind: problem.kind, model: problem.model, message: problem.line }),
        signal: AbortSignal.timeout(15_000),
      })
      if (!res.ok) log(`telling the pool about the model problem (${problem.kind}) failed: ${res.status}`)
    } catch (err) {
      log(
        `telling the pool about the model problem (${problem.kind}) failed: ${err instanceof Error ? err.message : String(err)}`,
      )
    }
  }
}
