// The rolling upgrade of one claimed agent with a REAL OpenClaw gateway (issue 20): local compute stops the agent and
// starts it again on its state dir (Compute.upgrade) while a person is talking to it. A turn the restart cut off (the
// fake model holds its answer until the old gateway is gone: OpenClaw's own restart recovery resumes it), a message
// waiting behind that turn (it never reached OpenClaw: the channel replays it) and a message sent while the agent was
// down are each answered exactly once after it comes back, in the same conversation, by the same identity.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect } from "effect"
import { connectPerson, joinInvite, waitForText } from "./support/chatClient.ts"
import { startTestDevnet } from "./support/devnet.ts"
import { type FakeLlm, startFakeLlm } from "./support/fakeLlm.ts"
import { type RealAgent, startRealAgent } from "./support/realAgent.ts"

let devnet: Awaited<ReturnType<typeof startTestDevnet>>
let llm: FakeLlm
let agent: RealAgent

beforeAll(async () => {
  devnet = await startTestDevnet()
  llm = await startFakeLlm()
  agent = await startRealAgent({
    id: "upgrade-e2e",
    token: "upgrade-e2e-token",
    baseEnv: {
      DEVNET_URL: devnet.url,
      OPENROUTER_BASE_URL: llm.baseUrl,
      OPENCLAW_PRIMARY_MODEL: "openrouter/anthropic/claude-sonnet-4-6",
    },
  })
}, 450_000)

afterAll(async () => {
  llm.hold = null
  await agent?.close()
  await llm?.close()
  await devnet?.close()
}, 60_000)

describe("rolling upgrade of a claimed agent (real gateway)", () => {
  it("a turn cut off by the restart and a message sent meanwhile are answered once each after it", async () => {
    const invite = await agent.provision({
      agentName: "Upgrade Helper",
      instructions: "Answer briefly.",
      env: { OPENROUTER_API_KEY: "sk-e2e-fake" },
    })
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const person = yield* connectPerson(devnet.url, "upgrade person")
          yield* joinInvite(person, invite.inviteUrl, 180_000)
          const conversation = invite.conversationId
          // Liveness bounds for a loaded 2-core machine: a turn takes minutes there, a gateway start several.
          const turnMs = 360_000
          const first = Date.now()
          yield* person.client.sendText(conversation, "ping before")
          yield* waitForText(person, conversation, (t) => t.startsWith("FAKE-REPLY"), first - 1, turnMs)
          const agentInbox = (yield* person.client.messages(conversation, { afterMs: first - 1, limit: 50 })).find(
            (m) => m.text?.startsWith("FAKE-REPLY"),
          )!.senderInboxId

          // A turn in flight: the model holds its answer; the restart ends the old gateway in the middle of it.
          llm.hold = "ping cut"
          const heldFrom = llm.requests.length
          yield* person.client.sendText(conversation, "ping cut")
          yield* Effect.promise(async () => {
            const deadline = Date.now() + turnMs
            while (!llm.requests.slice(heldFrom).some((r) => r.prompt.includes("ping cut"))) {
              if (Date.now() > deadline) throw new Error("the turn for 'ping cut' never reached the model")
              await new Promise((r) => setTimeout(r, 250))
            }
          })
          // Waits behind the held turn in the channel's turn queue: OpenClaw never sees it before the restart.
          yield* person.client.sendText(conversation, "ping queued")
          yield* Effect.sleep(3_000)
          const restartedAt = Date.now()
          yield* Effect.promise(() => agent.upgrade())
          llm.hold = null
          // While the new gateway starts.
          yield* person.client.sendText(conversation, "ping while down")
          yield* Effect.promise(() => agent.ready())

          const replies = () =>
            person.client
              .messages(conversation, { afterMs: first - 1, limit: 100 })
              .pipe(
                Effect.map((ms) =>
                  ms.filter((m) => m.senderInboxId === agentInbox && m.text?.startsWith("FAKE-REPLY")),
                ),
              )
          // The model's turns after the restart (the held request of the old gateway excluded), each told apart by its
          // newest turn's text: the fake echoes the first ping of the whole history, so the echoes cannot tell them.
          const PINGS = ["ping cut", "ping queued", "ping while down"]
          const turnsAfter = () =>
            llm.requests
              .slice(heldFrom + 1)
              .filter((r) => r.toolResult === null)
              .map((r) => PINGS.filter((p) => r.turn.includes(p)).join("+"))
          const answeredAfter = () => Effect.map(replies(), (rs) => rs.filter((m) => m.sentAt.getTime() > restartedAt))
          const deadline = Date.now() + 2 * turnMs
          while (
            !(
              PINGS.every((p) => turnsAfter().some((t) => t.includes(p))) &&
              (yield* answeredAfter()).length >= turnsAfter().length
            ) &&
            Date.now() < deadline
          )
            yield* Effect.sleep(1_000)
          // Anything answered twice (a replayed turn, a second try) would come within the time one turn takes here.
          const answeredIn = Date.now() - restartedAt
          yield* Effect.sleep(Math.min(60_000, Math.max(10_000, answeredIn / 4)))
          const all = yield* replies()
          const after = yield* answeredAfter()
          const seen = `answers ${JSON.stringify(all.map((m) => m.text))}; model turns after the restart ${JSON.stringify(turnsAfter())}`
          // Each message reached the model in exactly one turn after the restart (OpenClaw may merge queued ones into
          // one turn), and each of those turns was answered exactly once, after the restart, by the same identity.
          for (const p of PINGS)
            expect(
              turnsAfter().filter((t) => t.includes(p)),
              seen,
            ).toHaveLength(1)
          expect(after, seen).toHaveLength(turnsAfter().length)
          expect(all, seen).toHaveLength(1 + after.length)
        }),
      ),
    )
  }, 1_500_000)
})
