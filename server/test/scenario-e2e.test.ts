import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import { displayNames } from "@convos-agents/messaging/convos"
import { managementKey } from "@convos-agents/pool-core/testing/openrouter"
import { connectPerson, joinInvite } from "../../runtime/test/support/chatClient.ts"
import {
  freePort,
  instanceDir,
  killLeftoverAgents,
  nextText,
  sleep,
  startFakeOpenRouter,
  startSystem,
} from "./support/system.ts"

// Issue 18's scenario through the real parts: a fresh `npm start` (embedded PGlite and devnet, local compute with a
// REAL OpenClaw agent; OpenRouter keys and the model on one loopback fake). A new person opens the manager chat the
// moment it is ready, before any agent is warm, and says /new, a name and instructions, each once: the bot says the
// agent is on its way and sends a working invite when it is, with nothing typed twice. A second person joins by that
// invite, is greeted by the agent under its name, and gets an answer.
// CLAIM_WAIT is raised from its 3 minutes: a real gateway takes minutes to start on a loaded 2-core machine.

describe("a fresh start, then /new at once", () => {
  it("the first person's /new waits for the agent starting (no 'try again'), its invite works, and a second person is greeted by the agent's name", {
    timeout: 1_800_000,
  }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "convos-scenario-"))
    const openRouter = await startFakeOpenRouter()
    const port = await freePort()
    const env = {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: String(port),
      POOL_MIN_IDLE: "1",
      POOL_MAX_TOTAL: "1", // one real agent (~1 GB) at a time: the one the pool starts at boot is the one /new waits for
      POOL_TICK_INTERVAL: "2 seconds",
      CLAIM_WAIT: "20 minutes",
      OPENROUTER_BASE_URL: openRouter.origin,
      OPENROUTER_MANAGEMENT_KEY: managementKey,
    } as Record<string, string>
    for (const name of ["DATABASE_URL", "XMTP_ENV", "RAILWAY_API_TOKEN", "DEVNET_URL", "DEVNET_PORT", "POOL_API_KEY"])
      delete env[name]
    const system = startSystem(env)
    const counts = () =>
      fetch(`http://127.0.0.1:${port}/api/pool/counts`).then((r) => r.json() as Promise<{ idle: number }>)
    try {
      await system.ready(300_000)
      const readyAt = Date.now()
      const devnetUrl = readFileSync(join(dataDir, "devnet.url"), "utf8").trim()
      const managerInvite = readFileSync(join(dataDir, "manager-invite.url"), "utf8").trim()
      await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const ada = yield* connectPerson(devnetUrl, "Ada")
            const chat = yield* joinInvite(ada, managerInvite, 120_000)
            expect(chat._tag).toBe("Joined")
            const chatId = chat._tag === "Joined" ? chat.conversationId : ""
            const since = Date.now() - 1
            yield* ada.client.sendText(chatId, "/new")
            const newAfterReadyMs = Date.now() - readyAt
            const idleAtNew = (yield* Effect.promise(counts)).idle
            console.info(`scenario: /new sent ${newAfterReadyMs} ms after "ready"; idle agents then: ${idleAtNew}`)
            expect(idleAtNew, "no agent was warm yet when /new was sent").toBe(0)
            yield* nextText(ada, chatId, (t) => t.includes("What should it be called?"), since, 120_000)
            yield* ada.client.sendText(chatId, "Zed")
            yield* nextText(ada, chatId, (t) => t.includes("Send its instructions"), since, 120_000)
            yield* ada.client.sendText(chatId, "You are Zed. Always be brief. (scenario)")
            // The invite, or the old "try again" (then there is nothing more to wait for).
            const ready = yield* nextText(
              ada,
              chatId,
              (t) => t.includes("Zed is ready") || /try again/i.test(t),
              since,
              1_200_000,
            )
            const readyAfterMs = Date.now() - readyAt
            const bot = (yield* ada.client.messages(chatId, { afterMs: since, limit: 100 })).filter(
              (m) => m.senderInboxId !== ada.identity.inboxId && m.text !== null,
            )
            const texts = bot.map((m) => m.text!)
            console.info(`scenario: invite after ${readyAfterMs} ms; the bot said:\n${texts.join("\n---\n")}`)
            expect(
              texts.some((t) => /will be ready in about \d+ s/.test(t)),
              texts.join("\n"),
            ).toBe(true)
            expect(texts.filter((t) => /try again/i.test(t))).toEqual([])
            expect(ready.text).toContain("Zed is ready")
            // Ada typed each thing once.
            const typed = (yield* ada.client.messages(chatId, { afterMs: since, limit: 100 }))
              .filter((m) => m.senderInboxId === ada.identity.inboxId && m.text !== null)
              .map((m) => m.text)
            expect(typed).toEqual(["/new", "Zed", "You are Zed. Always be brief. (scenario)"])

            // A second person joins by the invite and is greeted by the agent, under its name.
            const link = /(https?:\/\/\S+\/v2\?i=\S+)/.exec(ready.text!)![1]!
            const bo = yield* connectPerson(devnetUrl, "Bo")
            const joined = yield* joinInvite(bo, link, 300_000)
            expect(joined._tag).toBe("Joined")
            const conversationId = joined._tag === "Joined" ? joined.conversationId : ""
            const greeting = yield* nextText(bo, conversationId, (t) => t.startsWith("Hi, I'm Zed"), 0, 600_000)
            const seen = yield* bo.client.messages(conversationId, { limit: 200 })
            expect(displayNames(seen).get(greeting.senderInboxId)).toBe("Zed")
            // And the agent answers (its model is the fake: FAKE-REPLY).
            const sentAt = Date.now() - 1
            yield* bo.client.sendText(conversationId, "ping from Bo")
            const answer = yield* nextText(bo, conversationId, (t) => t.startsWith("FAKE-REPLY"), sentAt, 600_000)
            expect(answer.senderInboxId).toBe(greeting.senderInboxId)
            expect(openRouter.chats.at(-1)!.body).toContain("scenario")
          }),
        ),
      )
      system.child.kill("SIGINT")
      expect(await system.exited).toBe(0)
    } catch (e) {
      const dir = instanceDir(dataDir)
      console.error(
        `manager output (tail):\n${system.output.text.slice(-4_000)}\nagent log (tail):\n${
          dir
            ? (
                () => {
                  try {
                    return readFileSync(join(dir, "runtime.log"), "utf8").slice(-4_000)
                  } catch {
                    return "(none)"
                  }
                }
              )()
            : "(none)"
        }`,
      )
      throw e
    } finally {
      if (system.child.exitCode === null) system.child.kill("SIGKILL")
      killLeftoverAgents(dataDir)
      await sleep(200)
      await openRouter.close()
      if (!process.env.KEEP_E2E_DATA) rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
