// Agent turns are bounded per agent, on a real devnet (no OpenClaw: `dispatch` stands in for the agent turn and is
// held until the test lets it go): one turn at a time, oldest first, CONVOS_TURN_QUEUE waiting, and a "busy" reply at
// once to a message beyond that.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect } from "effect"
import { DevnetMessaging } from "@convos-agents/messaging"
import { busyReply } from "../src/plugin/convosRuntime.ts"
import { connectPerson, joinInvite } from "./support/chatClient.ts"
import { startTestDevnet } from "./support/devnet.ts"
import { startInstance, type TestInstance } from "./support/instance.ts"

let devnet: Awaited<ReturnType<typeof startTestDevnet>>
let instance: TestInstance | null = null

beforeAll(async () => {
  devnet = await startTestDevnet()
})
afterAll(async () => {
  await instance?.close()
  await devnet?.close()
})

describe("agent turn queue", () => {
  it("serves one turn at a time, oldest first; beyond CONVOS_TURN_QUEUE waiting, the sender gets a busy reply at once", async () => {
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => (release = resolve))
    const started: string[] = []
    let running = 0
    let mostAtOnce = 0
    instance = await startInstance({
      messaging: DevnetMessaging.layerFromUrl(devnet.url),
      env: { OPENROUTER_API_KEY: "sk-test", CONVOS_TURN_QUEUE: "2" },
      dispatch: async (m, reply) => {
        started.push(m.text)
        mostAtOnce = Math.max(mostAtOnce, ++running)
        await gate
        await reply(`ANSWER: ${m.text}`)
        running--
        return { delivered: 1, silent: false }
      },
    })
    await instance.convos.start()
    const i = instance
    const texts = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const person = yield* connectPerson(devnet.url, "busy person")
          const res = yield* Effect.promise(() =>
            i.call("/pool/provision", { method: "POST", body: { agentName: "Busy", instructions: "" } }),
          )
          const conversationId = res.body.conversationId as string
          yield* joinInvite(person, res.body.inviteUrl)
          const at = Date.now() - 1
          const fromAgent = () =>
            person.client
              .messages(conversationId, { afterMs: at, limit: 100 })
              .pipe(
                Effect.map((ms) =>
                  ms.filter((m) => m.senderInboxId !== person.identity.inboxId && m.text !== null).map((m) => m.text!),
                ),
              )
          const waitUntil = (what: string, ok: (ts: ReadonlyArray<string>) => boolean) =>
            Effect.gen(function* () {
              for (let n = 0; n < 300; n++) {
                const ts = yield* fromAgent()
                if (ok(ts)) return ts
                yield* Effect.sleep(50)
              }
              return yield* Effect.fail(new Error(`${what}: got ${JSON.stringify(yield* fromAgent())}`))
            })
          // The first turn runs (held), two wait, the fourth and fifth find the queue full.
          for (const t of ["m1", "m2", "m3", "m4", "m5"]) {
            yield* person.client.sendText(conversationId, t)
            if (t === "m1")
              yield* Effect.promise(async () => {
                while (started.length === 0) await new Promise((r) => setTimeout(r, 20))
              })
          }
          const busy = yield* waitUntil(
            "two busy replies while the first turn is held",
            (ts) => ts.filter((t) => t.startsWith("I'm busy")).length === 2,
          )
          expect(busy.filter((t) => t.startsWith("ANSWER"))).toEqual([]) // the busy replies came while every turn was held
          expect(started).toEqual(["m1"]) // one at a time
          release()
          return yield* waitUntil(
            "the three queued answers",
            (ts) => ts.filter((t) => t.startsWith("ANSWER")).length === 3,
          )
        }),
      ),
    )
    expect(started).toEqual(["m1", "m2", "m3"]) // oldest first; m4 and m5 never became turns
    expect(mostAtOnce).toBe(1)
    expect(texts.filter((t) => t.startsWith("ANSWER"))).toEqual(["ANSWER: m1", "ANSWER: m2", "ANSWER: m3"])
    expect(texts.filter((t) => t.startsWith("I'm busy"))).toEqual([busyReply(2), busyReply(2)])
    expect(busyReply(2)).toContain("send this one again")
    expect(i.logs.filter((l) => l.includes("agent busy"))).toHaveLength(2)
  }, 60_000)

  it("a bad CONVOS_TURN_QUEUE stops the runtime at start, naming the variable", async () => {
    await expect(
      startInstance({
        messaging: DevnetMessaging.layerFromUrl(devnet.url),
        env: { CONVOS_TURN_QUEUE: "lots" },
        dispatch: async () => ({ delivered: 0, silent: true }),
      }),
    ).rejects.toThrow(/CONVOS_TURN_QUEUE must be a whole number/)
  })
})
