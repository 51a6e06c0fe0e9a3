// The plugin runtime across a restart on its state dir (what the pool's rolling upgrade and any crash do), on a real
// devnet without OpenClaw (`dispatch` stands in for the agent turn): a message waiting behind a turn the restart cut off
// and a message sent while the agent was down are both answered after it, each exactly once; the cut-off turn itself
// is not replayed by the channel once OpenClaw took it over (OpenClaw's restart recovery resumes it: the real-gateway
// test, upgrade-e2e.test.ts), and a further restart answers nothing again.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, Layer, Stream } from "effect"
import { DevnetMessaging, Messaging } from "@convos-agents/messaging"
import { connectPerson, joinInvite } from "./support/chatClient.ts"
import { startTestDevnet } from "./support/devnet.ts"
import { startInstance } from "./support/instance.ts"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

let devnet: Awaited<ReturnType<typeof startTestDevnet>>
const stateDir = mkdtempSync(join(tmpdir(), "runtime-restart-"))
beforeAll(async () => {
  devnet = await startTestDevnet()
})
afterAll(async () => {
  await devnet?.close()
  rmSync(stateDir, { recursive: true, force: true })
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const until = async (what: string, ok: () => boolean, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

/**
 * An agent whose turns answer "ECHO: <text>", except those `hangs` picks: OpenClaw takes them over (`accepted`) and
 * they never end (cut off by the restart).
 */
const agent = (hangs: (text: string) => boolean = () => false) => {
  const turns: Array<string> = []
  return {
    turns,
    dispatch: async (m: { text: string }, reply: (text: string) => Promise<void>, accepted: () => void) => {
      turns.push(m.text)
      if (hangs(m.text)) {
        accepted()
        await new Promise(() => {})
      }
      await reply(`ECHO: ${m.text}`)
      return { delivered: 1, silent: false }
    },
  }
}

/** Texts the agent's message stream delivered (before the agent handles them). */
const heard: Array<string> = []
const listening = () =>
  Layer.effect(
    Messaging,
    Effect.map(Effect.service(Messaging), (m) =>
      Messaging.of({
        ...m,
        connect: (identity, options) =>
          Effect.map(m.connect(identity, options), (client) => ({
            ...client,
            stream: (o) =>
              client.stream(o).pipe(Stream.tap((msg) => Effect.sync(() => msg.text && heard.push(msg.text)))),
          })),
      }),
    ),
  ).pipe(Layer.provide(DevnetMessaging.layerFromUrl(devnet.url)))

const start = (a: ReturnType<typeof agent>) =>
  startInstance({
    stateDir,
    messaging: listening(),
    env: { OPENROUTER_API_KEY: "sk-test" },
    dispatch: a.dispatch,
  })

describe("restart on the agent's state", () => {
  it("a message waiting behind the cut-off turn and one sent while down are answered after it, once each", async () => {
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const person = yield* connectPerson(devnet.url, "restart person")
          const echoes = () =>
            person.client
              .messages(conversationId, { afterMs: 0, limit: 100 })
              .pipe(
                Effect.map((ms) =>
                  ms.flatMap((m) =>
                    m.text?.startsWith("ECHO: ") && m.senderInboxId !== person.identity.inboxId ? [m.text] : [],
                  ),
                ),
              )

          // Before: "first" is answered; "cut off" starts a turn that the restart ends before it answers.
          const before = agent((t) => t === "cut off")
          const one = yield* Effect.promise(() => start(before))
          yield* Effect.promise(() => one.convos.start())
          const provisioned = yield* Effect.promise(() =>
            one.call("/pool/provision", { method: "POST", body: { agentName: "Echo", instructions: "" } }),
          )
          const conversationId: string = provisioned.body.conversationId
          yield* joinInvite(person, provisioned.body.inviteUrl)
          yield* person.client.sendText(conversationId, "first")
          yield* Effect.promise(() => until("the first answer", () => before.turns.includes("first")))
          yield* person.client.sendText(conversationId, "cut off")
          yield* Effect.promise(() => until("the cut-off turn to start", () => before.turns.includes("cut off")))
          // Waits in the agent's turn queue behind the cut-off turn: it never reaches OpenClaw before the restart.
          yield* person.client.sendText(conversationId, "queued")
          yield* Effect.promise(() => until("the agent to receive the queued one", () => heard.includes("queued")))
          yield* Effect.sleep(300) // its handling (into the turn queue) follows at once
          expect(before.turns).toEqual(["first", "cut off"])
          yield* Effect.promise(() => one.close())

          // While it is down.
          yield* person.client.sendText(conversationId, "while down")

          // After the restart on the same state: both answered, "first" not again.
          const after = agent()
          const two = yield* Effect.promise(() => start(after))
          yield* Effect.promise(() => two.convos.start())
          yield* Effect.promise(() => until("both answered after the restart", () => after.turns.length >= 2, 30_000))
          yield* Effect.sleep(1_000) // anything answered twice would show by now
          expect(after.turns).toEqual(["queued", "while down"])
          expect((yield* echoes()).sort()).toEqual(["ECHO: first", "ECHO: queued", "ECHO: while down"])
          yield* Effect.promise(() => two.close())

          // One more restart: nothing is answered again.
          const again = agent()
          const three = yield* Effect.promise(() => start(again))
          yield* Effect.promise(() => three.convos.start())
          yield* Effect.sleep(2_000)
          expect(again.turns).toEqual([])
          expect((yield* echoes()).length).toBe(3)
          yield* Effect.promise(() => three.close())
        }),
      ),
    )
  }, 90_000)
})
