// The real system for end-to-end tests: `npm start`'s entry as a child process, OpenRouter (keys API and model) on one
// loopback fake, and people on its devnet waiting for texts.
import { spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { createServer, type IncomingMessage, type Server } from "node:http"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { expect } from "vitest"
import { Effect } from "effect"
import { openRouterApi } from "@convos-agents/pool-core/testing/openrouter"
import { isAlive, portFree } from "@convos-agents/pool-core/compute/local/processes"
import type { ChatPerson } from "../../../runtime/test/support/chatClient.ts"
import { startFakeLlm } from "../../../runtime/test/support/fakeLlm.ts"

const main = fileURLToPath(new URL("../../src/main.ts", import.meta.url))

/**
 * A free loopback port for a process the test starts later, picked below Linux's ephemeral range (32768-60999): a port
 * the OS hands out for a listen on port 0 (the manager's embedded PGlite server, the devnet, an agent) can then never
 * be this one between the pick and the bind. Seen in CI: PORT and the PGlite server got the same port, and the start
 * failed with EADDRINUSE.
 */
export const freePort = async (): Promise<number> => {
  for (let tries = 0; tries < 200; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    if (await portFree(port)) return port
  }
  throw new Error("freePort: no free loopback port in 20000-31999 after 200 tries")
}

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString("utf8")
}

/** OpenRouter on one origin: the keys API (the provider fake) and the model (the fake LLM), like the real service. */
export const startFakeOpenRouter = async () => {
  const llm = await startFakeLlm()
  const keys = openRouterApi()
  const chats: Array<{ authorization: string | undefined; body: string }> = []
  const server: Server = createServer(async (req, res) => {
    const text = await readBody(req)
    const path = req.url ?? ""
    if (path.startsWith("/api/v1/keys")) {
      const reply = keys.handle({
        method: req.method ?? "",
        path,
        headers: req.headers,
        body: text ? JSON.parse(text) : undefined,
      })
      res.writeHead(reply.status ?? 200, { "content-type": "application/json" })
      res.end(JSON.stringify(reply.json ?? {}))
      return
    }
    if (path.endsWith("/chat/completions")) chats.push({ authorization: req.headers.authorization, body: text })
    const upstream = await fetch(`${llm.baseUrl}${path.replace(/^\/api\/v1/, "")}`, {
      method: req.method,
      headers: {
        "content-type": "application/json",
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      },
      body: req.method === "GET" || req.method === "HEAD" ? undefined : text,
    })
    res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" })
    if (upstream.body) for await (const chunk of upstream.body) res.write(chunk)
    res.end()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    origin: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    chats,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await llm.close()
    },
  }
}

export const startSystem = (env: Record<string, string>) => {
  const child = spawn(process.execPath, ["--import", "tsx", main], { env, stdio: ["ignore", "pipe", "pipe"] })
  const output = { text: "" }
  child.stdout.on("data", (d) => (output.text += d))
  child.stderr.on("data", (d) => (output.text += d))
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)))
  const ready = async (timeoutMs: number) => {
    const until = Date.now() + timeoutMs
    while (!output.text.includes("[start] ready") && Date.now() < until && child.exitCode === null)
      await new Promise((r) => setTimeout(r, 200))
    expect(output.text, output.text).toContain("[start] ready")
  }
  return { child, output, exited, ready }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Waits for a text from someone else in the conversation, sent after `afterMs`, that matches. */
export const nextText = (
  person: ChatPerson,
  conversationId: string,
  match: (text: string) => boolean,
  afterMs: number,
  timeoutMs: number,
) =>
  Effect.gen(function* () {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const messages = yield* person.client
        .messages(conversationId, { afterMs, limit: 100 })
        .pipe(Effect.orElseSucceed(() => []))
      const hit = messages.find((m) => m.senderInboxId !== person.identity.inboxId && m.text !== null && match(m.text))
      if (hit) return hit
      yield* Effect.sleep(300)
    }
    const seen = yield* person.client
      .messages(conversationId, { afterMs, limit: 100 })
      .pipe(Effect.orElseSucceed(() => []))
    return yield* Effect.fail(
      new Error(
        `no matching message in ${conversationId} within ${timeoutMs} ms; got: ${JSON.stringify(seen.map((m) => m.text))}`,
      ),
    )
  })

export const say = (
  person: ChatPerson,
  conversationId: string,
  text: string,
  match: (reply: string) => boolean,
  timeoutMs = 120_000,
) =>
  Effect.gen(function* () {
    const sentAt = Date.now() - 1
    yield* person.client.sendText(conversationId, text)
    return yield* nextText(person, conversationId, match, sentAt, timeoutMs)
  })

/** The one agent folder under DATA_DIR/instances (null while there is none, or when there are several). */
export const instanceDir = (dataDir: string) => {
  const dirs = existsSync(join(dataDir, "instances")) ? readdirSync(join(dataDir, "instances")) : []
  return dirs.length === 1 ? join(dataDir, "instances", dirs[0]!) : null
}

/** Agents outlive a SIGKILLed manager: stops every local agent process a test left running under DATA_DIR. */
export const killLeftoverAgents = (dataDir: string) => {
  const root = join(dataDir, "instances")
  for (const dir of existsSync(root) ? readdirSync(root) : []) {
    const file = join(root, dir, "instance.json")
    if (!existsSync(file)) continue
    const { pid } = JSON.parse(readFileSync(file, "utf8")) as { pid: number }
    try {
      if (isAlive(pid)) process.kill(-pid, "SIGKILL")
    } catch {}
  }
}
