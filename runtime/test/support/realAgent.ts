// One agent on a REAL OpenClaw gateway for end-to-end tests: the local compute layer starts the runtime CLI, which
// starts the gateway; `provision` speaks the instance contract; `ask` has a person join the agent's conversation on
// the devnet, say something and wait for the agent's answer.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, ManagedRuntime } from "effect"
import { Compute } from "@convos-agents/pool-core"
import { localComputeLayer } from "@convos-agents/pool-core/compute/local"
import { connectPerson, joinInvite, waitForText } from "./chatClient.ts"

export interface RealAgent {
  readonly url: string
  readonly stateDir: string
  readonly provision: (body: {
    agentName: string
    instructions: string
    env?: Record<string, string>
  }) => Promise<{ conversationId: string; inviteUrl: string }>
  readonly patch: (body: Record<string, unknown>) => Promise<{ status: number; body: unknown }>
  /**
   * The pool's rolling upgrade for this agent (Compute.upgrade): stops it and starts it again on its state dir;
   * resolves once the new process is started (not ready yet). `ready` waits for it.
   */
  readonly upgrade: () => Promise<void>
  readonly ready: (timeoutMs?: number) => Promise<void>
  readonly close: () => Promise<void>
}

const waitReady = async (base: string, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${base}/pool/health`)
      if (r.ok && r.headers.get("content-type")?.includes("json") && ((await r.json()) as { ready: boolean }).ready)
        return
    } catch {}
    await new Promise((r) => setTimeout(r, 500))
  }
  throw new Error(`runtime at ${base} not ready within ${timeoutMs} ms`)
}

export const startRealAgent = async (options: {
  id: string
  token: string
  baseEnv: Record<string, string>
  readyTimeoutMs?: number
}): Promise<RealAgent> => {
  const dataDir = mkdtempSync(join(tmpdir(), `runtime-${options.id}-`))
  const compute = ManagedRuntime.make(localComputeLayer({ dataDir, baseEnv: options.baseEnv }))
  const handle = await compute.runPromise(
    Effect.gen(function* () {
      return yield* (yield* Compute).create({ instanceId: options.id, instanceToken: options.token, env: {} })
    }),
  )
  const url = handle.url!
  const headers = { authorization: `Bearer ${options.token}`, "content-type": "application/json" }
  const close = async () => {
    await compute.dispose()
    if (!process.env.KEEP_E2E_DATA) rmSync(dataDir, { recursive: true, force: true })
  }
  try {
    await waitReady(url, options.readyTimeoutMs ?? 420_000)
  } catch (e) {
    await close()
    throw e
  }
  return {
    url,
    stateDir: join(dataDir, "instances", options.id),
    provision: async (body) => {
      const res = await fetch(`${url}/pool/provision`, { method: "POST", headers, body: JSON.stringify(body) })
      if (res.status !== 200) throw new Error(`provision answered ${res.status}: ${await res.text()}`)
      return (await res.json()) as { conversationId: string; inviteUrl: string }
    },
    patch: async (body) => {
      const res = await fetch(`${url}/pool/agent`, { method: "PATCH", headers, body: JSON.stringify(body) })
      return { status: res.status, body: await res.json().catch(() => null) }
    },
    upgrade: async () => {
      const again = await compute.runPromise(
        Effect.gen(function* () {
          return yield* (yield* Compute).upgrade!(options.id)
        }),
      )
      if (again.url !== url) throw new Error(`the upgraded agent moved from ${url} to ${again.url}`)
    },
    ready: (timeoutMs) => waitReady(url, timeoutMs ?? options.readyTimeoutMs ?? 420_000),
    close,
  }
}

/** A person joins the conversation by its invite, then says each line in turn; answers[i] is the first message after
 * line i that `done` accepts. `before(i)`, when given, runs (awaited) before line i is said. */
export const converse = (
  devnetUrl: string,
  invite: { conversationId: string; inviteUrl: string },
  lines: ReadonlyArray<string>,
  done: (text: string) => boolean,
  timeoutMs = 150_000,
  before?: (i: number) => Promise<void>,
) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const person = yield* connectPerson(devnetUrl, "person")
        yield* joinInvite(person, invite.inviteUrl)
        const answers: Array<string> = []
        for (const [i, line] of lines.entries()) {
          if (before) yield* Effect.promise(() => before(i))
          const sentAt = Date.now()
          yield* person.client.sendText(invite.conversationId, line)
          answers.push(yield* waitForText(person, invite.conversationId, done, sentAt - 1, timeoutMs))
        }
        return answers
      }),
    ),
  )
