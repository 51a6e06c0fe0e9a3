// A fake OpenRouter chat-completions API on loopback (streaming SSE like OpenRouter), for tests and the bench. Every
// request body is checked against OpenRouter's published API reference (pool-core/providers/openrouter/openapi.json):
// one the real API would refuse is answered 400 and kept in `violations`. Replies "FAKE-REPLY #<n>: <the ping… line
// of the prompt>" and records each request (model, auth header, the names of the tools offered). Scripted tool calls:
// a turn whose user messages contain a trigger gets that tool call instead, and the request that carries the tool's
// result gets "TOOL-RESULT #<n>: <the result the gateway gave the model>". A request for a Perplexity Sonar model
// (web search through OpenRouter) is kept in `searches` and answered with a synthesized answer and a URL citation.
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { openApiContract } from "@convos-agents/pool-core/providers/http/openapi"
import { openRouterReference } from "@convos-agents/pool-core/testing/openrouter"

const contract = openApiContract(openRouterReference)
/** What the fake's web search answers for `query`: the test looks for it in the agent's reply. */
export const searchAnswer = (query: string) => `SEARCH-ANSWER for ${query}: the answer is 42 (example.org)`
export const SEARCH_CITATION = "https://example.org/answer-42"

export interface FakeLlm {
  readonly baseUrl: string
  /** `prompt`: every message of the request (system included), flattened: what the model was told. */
  readonly requests: Array<{
    model: string
    authorization: string | undefined
    lastUser: string
    /** The user messages of the newest turn (after the last assistant message), flattened. */
    turn: string
    prompt: string
    tools: ReadonlyArray<string>
    toolResult: string | null
  }>
  /** When the newest turn's user messages contain `trigger`, the model calls `name` with `args` (OpenAI tool_calls). */
  readonly toolCalls: Array<{ readonly trigger: string; readonly name: string; readonly args: Record<string, unknown> }>
  /** Web searches through OpenRouter (Perplexity Sonar models): the auth header and the whole request body. */
  readonly searches: Array<{ readonly authorization: string | undefined; readonly body: Record<string, unknown> }>
  /** Requests OpenRouter would refuse, per its API reference (each was answered 400). */
  readonly violations: Array<string>
  /** Requests answered 401 (acceptKey) or 404 (knownModels), with the model id each asked for. */
  readonly refused: Array<{ readonly model: string; readonly status: number }>
  /**
   * Like a model server: with a list, a request for any other model is answered 404 "model … not found" (as Ollama
   * does); null (the default) serves any model. Changeable while the fake runs.
   */
  knownModels: ReadonlyArray<string> | null
  /** When set, a request without `Authorization: Bearer <acceptKey>` is answered 401 (a refused key). */
  acceptKey: string | null
  /**
   * When set, a request whose newest turn contains this text is recorded and then held unanswered until `hold` is
   * cleared (or the caller goes away): a turn in flight, e.g. to restart the agent in the middle of it.
   */
  hold: string | null
  readonly close: () => Promise<void>
}

const flatten = (content: unknown): string =>
  typeof content === "string"
    ? content
    : Array.isArray(content)
      ? content.map((p: { text?: string }) => p.text ?? "").join("")
      : JSON.stringify(content ?? "")

const lastUserText = (messages: Array<{ role: string; content: unknown }>): string => {
  const last = [...messages].reverse().find((m) => m.role === "user")
  if (!last) return ""
  if (typeof last.content === "string") return last.content
  if (Array.isArray(last.content)) return last.content.map((p: { text?: string }) => p.text ?? "").join("")
  return ""
}

/** `<vendor>/<model>`: OpenRouter's model id shape (an optional ":variant" such as ":free" included). */
const OPENROUTER_MODEL_ID = /^[a-z0-9][a-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._:-]*$/

/** `generic`: a plain OpenAI-compatible server (a local model server): any model id, no OpenRouter reference check. */
export const startFakeLlm = async (options: { readonly generic?: boolean } = {}): Promise<FakeLlm> => {
  const requests: FakeLlm["requests"] = []
  const toolCalls: FakeLlm["toolCalls"] = []
  const searches: FakeLlm["searches"] = []
  const violations: FakeLlm["violations"] = []
  const refused: FakeLlm["refused"] = []
  const fake = {
    knownModels: null as ReadonlyArray<string> | null,
    acceptKey: null as string | null,
    hold: null as string | null,
  }
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
      res.statusCode = req.url?.endsWith("/models") ? 200 : 404
      res.end(JSON.stringify({ data: [] }))
      return
    }
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
      model: string
      stream?: boolean
      messages: Array<{ role: string; content: unknown }>
      tools?: Array<{ function?: { name?: string } }>
    }
    const violation = options.generic
      ? null
      : contract.checkRequest({ method: "POST", path: req.url, headers: req.headers, body })
    if (violation) {
      violations.push(violation.message)
      res.writeHead(400, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: { code: 400, message: violation.message } }))
      return
    }
    if (body.model.startsWith("perplexity/")) {
      searches.push({ authorization: req.headers.authorization, body: body as unknown as Record<string, unknown> })
      const query = lastUserText(body.messages)
      const answer = {
        id: `search-${searches.length}`,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        system_fingerprint: null,
        choices: [
          {
            index: 0,
            finish_reason: "stop",
            message: {
              role: "assistant",
              content: searchAnswer(query),
              annotations: [
                {
                  type: "url_citation",
                  url_citation: {
                    url: SEARCH_CITATION,
                    title: "Answer 42",
                    start_index: 0,
                    end_index: 10,
                    content: "42",
                  },
                },
              ],
            },
          },
        ],
        usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
      }
      const drift = contract.checkResponse({ method: "POST", path: req.url, headers: req.headers, body }, 200, answer)
      if (drift) throw new Error(`fake OpenRouter answers off its reference: ${drift}`)
      res.setHeader("content-type", "application/json")
      res.end(JSON.stringify(answer))
      return
    }
    const user = lastUserText(body.messages)
    if (fake.acceptKey !== null && req.headers.authorization !== `Bearer ${fake.acceptKey}`) {
      refused.push({ model: body.model, status: 401 })
      res.writeHead(401, { "content-type": "application/json" })
      res.end(
        JSON.stringify({ error: { message: "Invalid API key provided", type: "invalid_request_error", code: 401 } }),
      )
      return
    }
    if (fake.knownModels !== null && !fake.knownModels.includes(body.model)) {
      refused.push({ model: body.model, status: 404 })
      res.writeHead(404, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: { message: `model '${body.model}' not found`, type: "not_found_error" } }))
      return
    }
    // The newest turn: everything after the last assistant message. OpenClaw sends the person's text and its context
    // block as separate user messages (the context last), and after a tool call it sends the tool's result followed by
    // that context block again, so a trigger and a tool result are both looked for in the whole turn.
    const lastAssistant = body.messages.map((m) => m.role).lastIndexOf("assistant")
    const turnMessages = body.messages.slice(lastAssistant + 1)
    const toolMessages = turnMessages.filter((m) => m.role === "tool")
    const toolResult = toolMessages.length > 0 ? toolMessages.map((m) => flatten(m.content)).join("\n") : null
    requests.push({
      model: body.model,
      authorization: req.headers.authorization,
      lastUser: user,
      turn: turnMessages
        .filter((m) => m.role === "user")
        .map((m) => flatten(m.content))
        .join("\n"),
      prompt: body.messages.map((m) => flatten(m.content)).join("\n"),
      tools: (body.tools ?? []).map((t) => t.function?.name ?? "?"),
      toolResult,
    })
    const newestTurn = turnMessages.map((m) => flatten(m.content)).join("\n")
    let gone = false
    res.once("close", () => {
      gone = true
    })
    while (fake.hold !== null && newestTurn.includes(fake.hold) && !gone) await new Promise((r) => setTimeout(r, 100))
    if (gone) return
    // Like OpenRouter: a model id is "<vendor>/<model>" (or one of OpenRouter's own, "openrouter/<name>"). An OpenClaw
    // ref such as "openrouter/anthropic/…" or "convos-openrouter/…" is refused with 400.
    if (!options.generic && !OPENROUTER_MODEL_ID.test(body.model ?? "")) {
      res.writeHead(400, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: { message: `${body.model} is not a valid model ID`, code: 400 } }))
      return
    }
    // OpenClaw wraps the user text in context sections (and some tokens in a reply are directives), so the fake echoes
    // only the part of the prompt that starts with "ping" — what tests and the bench send.
    const all = body.messages
      .filter((m) => m.role === "user")
      .map((m) => JSON.stringify(m.content))
      .join(" ")
    const echoed = [...all.matchAll(/ping\b[^\\"<]*/g)].at(0)?.[0]?.trim() ?? "ok"
    const text =
      toolResult !== null
        ? `TOOL-RESULT #${requests.length}: ${toolResult.slice(0, 2000)}`
        : `FAKE-REPLY #${requests.length}: ${echoed}`
    const id = `chatcmpl-${requests.length}`
    const created = Math.floor(Date.now() / 1000)
    const turnText = turnMessages
      .filter((m) => m.role === "user")
      .map((m) => flatten(m.content))
      .join("\n")
    const call = toolResult === null ? toolCalls.find((c) => turnText.includes(c.trigger)) : undefined
    if (call && body.stream) {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })
      const toolDelta = {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            index: 0,
            id: `call_${requests.length}`,
            type: "function",
            function: { name: call.name, arguments: JSON.stringify(call.args) },
          },
        ],
      }
      res.write(
        `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: body.model, choices: [{ index: 0, delta: toolDelta, finish_reason: null }] })}\n\n`,
      )
      res.write(
        `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: body.model, choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] })}\n\n`,
      )
      res.write(
        `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: body.model, choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } })}\n\n`,
      )
      res.end("data: [DONE]\n\n")
      return
    }
    if (!body.stream) {
      res.setHeader("content-type", "application/json")
      res.end(
        JSON.stringify({
          id,
          object: "chat.completion",
          created,
          model: body.model,
          choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
          usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        }),
      )
      return
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })
    const chunk = (delta: object, finish: string | null = null) =>
      res.write(
        `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`,
      )
    chunk({ role: "assistant", content: "" })
    for (const part of text.match(/.{1,16}/gs) ?? []) chunk({ content: part })
    chunk({}, "stop")
    res.write(
      `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: body.model, choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } })}\n\n`,
    )
    res.end("data: [DONE]\n\n")
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return Object.assign(fake, {
    baseUrl: `http://127.0.0.1:${port}/api/v1`,
    requests,
    toolCalls,
    searches,
    violations,
    refused,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  })
}
