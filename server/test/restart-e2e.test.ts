import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer as createNetServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { displayNames } from "@convos-agents/messaging/convos"
import { managementKey } from "@convos-agents/pool-core/testing/openrouter"
import { isAlive } from "@convos-agents/pool-core/compute/local/processes"
import { connectPerson, joinInvite } from "../../runtime/test/support/chatClient.ts"
import {
  freePort,
  instanceDir as agentDir,
  nextText,
  say,
  sleep,
  startFakeOpenRouter,
  startSystem,
} from "./support/system.ts"

// Stop is not destroy, through the real parts: `npm start`'s entry as a real process (embedded PGlite and devnet, local
// compute with a REAL OpenClaw agent, OpenRouter keys and the model on one loopback fake). A person gets an agent from
// the manager bot and chats with it; Ctrl-C; a start that fails after the agents were brought back (its port is taken)
// destroys nothing; the next start brings the agent back: same identity, same conversation, same name and
// instructions, same model key, and it answers the same person again.

describe("Ctrl-C, then npm start again", () => {
  it("a claimed agent answers the same person in the same conversation, under the same name and instructions", {
    timeout: 1_500_000,
  }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "convos-restart-"))
    const openRouter = await startFakeOpenRouter()
    const port = await freePort()
    const env = {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: String(port),
      POOL_MIN_IDLE: "1",
      POOL_MAX_TOTAL: "1", // one real agent (~1.3 GB) at a time
      POOL_TICK_INTERVAL: "2 seconds",
      OPENROUTER_BASE_URL: openRouter.origin,
      OPENROUTER_MANAGEMENT_KEY: managementKey,
    } as Record<string, string>
    for (const name of ["DATABASE_URL", "XMTP_ENV", "RAILWAY_API_TOKEN", "DEVNET_URL", "DEVNET_PORT", "POOL_API_KEY"])
      delete env[name]
    let system = startSystem(env)
    const instanceDir = () => agentDir(dataDir)
    try {
      await system.ready(300_000)
      const devnetUrl = readFileSync(join(dataDir, "devnet.url"), "utf8").trim()
      const managerInvite = readFileSync(join(dataDir, "manager-invite.url"), "utf8").trim()
      await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            // Wait for the real agent to be warm (idle), then get it from the manager bot like a person does.
            // (An OpenClaw gateway takes 20 s to start on an idle machine, minutes on a loaded one.)
            let idle = 0
            for (let i = 0; i < 600 && idle < 1; i++) {
              idle = (yield* Effect.promise(() =>
                fetch(`http://127.0.0.1:${port}/api/pool/counts`).then((r) => r.json() as Promise<{ idle: number }>),
              )).idle
              if (idle < 1) yield* Effect.sleep(1_000)
            }
            expect(idle, "a real agent became ready").toBe(1)
            const ada = yield* connectPerson(devnetUrl, "Ada")
            const chat = yield* joinInvite(ada, managerInvite, 120_000)
            expect(chat._tag).toBe("Joined")
            const chatId = chat._tag === "Joined" ? chat.conversationId : ""
            yield* nextText(ada, chatId, (t) => t.includes("agent manager"), 0, 120_000)
            yield* say(ada, chatId, "/new", (t) => t.includes("What should it be called?"))
            yield* say(ada, chatId, "Zed", (t) => t.includes("Send its instructions"))
            const ready = yield* say(
              ada,
              chatId,
              "You are Zed. Always be brief. (kept-across-restart)",
              (t) => t.includes("Zed is ready"),
              240_000,
            )
            const link = /(https?:\/\/\S+\/v2\?i=\S+)/.exec(ready.text!)![1]!
            const joined = yield* joinInvite(ada, link, 120_000)
            expect(joined._tag).toBe("Joined")
            const conversationId = joined._tag === "Joined" ? joined.conversationId : ""

            const before = yield* say(
              ada,
              conversationId,
              "ping before the restart",
              (t) => t.startsWith("FAKE-REPLY"),
              300_000,
            )
            const agentInbox = before.senderInboxId
            const keyBefore = openRouter.chats.at(-1)!.authorization
            expect(keyBefore).toMatch(/^Bearer sk-or-v1-secret-/)

            // Ctrl-C: the agent's processes stop; its state stays.
            const dir = instanceDir()
            expect(dir).not.toBeNull()
            const pidBefore = (JSON.parse(readFileSync(join(dir!, "instance.json"), "utf8")) as { pid: number }).pid
            system.child.kill("SIGINT")
            expect(yield* Effect.promise(() => system.exited)).toBe(0)
            expect(isAlive(pidBefore)).toBe(false)
            expect(existsSync(join(dir!, "convos", "agent.json"))).toBe(true)

            // A start that fails after the compute layer brought the agent back (the HTTP port is taken): nothing destroyed.
            const squatter = createNetServer()
            yield* Effect.promise(
              () => new Promise<void>((resolve) => squatter.listen(port, "127.0.0.1", () => resolve())),
            )
            const failing = startSystem(env)
            const failedWith = yield* Effect.promise(() => failing.exited)
            yield* Effect.promise(() => new Promise((resolve) => squatter.close(resolve)))
            expect(failedWith, failing.output.text).toBe(1)
            expect(failing.output.text).toContain("could not start")
            expect(instanceDir()).toBe(dir)
            expect(existsSync(join(dir!, "convos", "agent.json"))).toBe(true)
            expect(existsSync(join(dir!, ".env"))).toBe(true)

            // Start again: the same agent comes back and answers Ada in the same conversation.
            system = startSystem(env)
            yield* Effect.promise(() => system.ready(300_000))
            expect(instanceDir()).toBe(dir)
            const after = yield* Effect.gen(function* () {
              // Sent as soon as the manager is up: the agent is still starting, and answers once it is.
              return yield* say(
                ada,
                conversationId,
                "ping after the restart",
                (t) => t.startsWith("FAKE-REPLY"),
                480_000,
              )
            })
            expect(after.conversationId).toBe(conversationId)
            expect(after.senderInboxId).toBe(agentInbox) // same identity
            const messages = yield* ada.client.messages(conversationId, { limit: 200 })
            expect(displayNames(messages).get(agentInbox)).toBe("Zed")
            const lastChat = openRouter.chats.at(-1)!
            expect(lastChat.authorization).toBe(keyBefore) // its OpenRouter key (a provision-time secret) was kept
            expect(lastChat.body).toContain("kept-across-restart") // its instructions
            expect(lastChat.body).toContain("Zed")
            // The pool still has it claimed, under its name.
            const agents = yield* Effect.promise(() =>
              fetch(`http://127.0.0.1:${port}/api/pool/agents`).then(
                (r) => r.json() as Promise<{ claimed: Array<{ name: string; status: string }> }>,
              ),
            )
            expect(agents.claimed).toEqual([expect.objectContaining({ name: "Zed", status: "claimed" })])
          }),
        ),
      )
      system.child.kill("SIGINT")
      expect(await system.exited).toBe(0)
    } catch (e) {
      // What the manager and the agent said, to see where it stopped.
      const dir = instanceDir()
      console.error(
        `manager output (tail):\n${system.output.text.slice(-4_000)}\nagent log (tail):\n${dir && existsSync(join(dir, "runtime.log")) ? readFileSync(join(dir, "runtime.log"), "utf8").slice(-4_000) : "(none)"}`,
      )
      throw e
    } finally {
      if (system.child.exitCode === null) system.child.kill("SIGKILL")
      // Agents outlive a SIGKILLed manager: stop whatever this test left running.
      const dir = instanceDir()
      if (dir && existsSync(join(dir, "instance.json"))) {
        const { pid } = JSON.parse(readFileSync(join(dir, "instance.json"), "utf8")) as { pid: number }
        try {
          if (isAlive(pid)) process.kill(-pid, "SIGKILL")
        } catch {}
      }
      await sleep(200)
      await openRouter.close()
      if (!process.env.KEEP_E2E_DATA) rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
