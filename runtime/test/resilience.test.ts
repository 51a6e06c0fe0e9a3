// The plugin runtime when things go wrong, on a real devnet (no OpenClaw: `dispatch` stands in for the agent turn,
// with OpenClaw's inbound dedup by message id modelled after its dist, auto-reply/reply/inbound-dedupe.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, Fiber } from "effect"
import { DevnetMessaging, generateIdentity, Messaging } from "@convos-agents/messaging"
import {
  createInviteSlug,
  encodeMetadata,
  inviteUrlBase,
  randomTag,
  serveJoinRequests,
} from "@convos-agents/messaging/convos"
import { connectPerson, joinInvite, waitForText } from "./support/chatClient.ts"
import { startTestDevnet } from "./support/devnet.ts"
import { faultyMessaging, startInstance, type TestInstance } from "./support/instance.ts"

let devnet: Awaited<ReturnType<typeof startTestDevnet>>
const open: TestInstance[] = []
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const until = async (what: string, ok: () => Promise<boolean> | boolean, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

beforeAll(async () => {
  devnet = await startTestDevnet()
})
afterAll(async () => {
  for (const i of open.splice(0)) await i.close()
  await devnet?.close()
})

const instance = async (...args: Parameters<typeof startInstance>) => {
  const i = await startInstance(...args)
  open.push(i)
  return i
}

/** Core's dedup: a message id whose turn completed is skipped as a duplicate (for 20 minutes). */
const dedupingAgent = (answer: string) => {
  const seen = new Set<string>()
  const turns: string[] = []
  return {
    turns,
    dispatch: async (m: { id: string; text: string }, reply: (text: string) => Promise<void>) => {
      turns.push(m.id)
      if (seen.has(m.id)) return { delivered: 0, silent: false } // "duplicate": skipped, nothing delivered
      seen.add(m.id)
      try {
        await reply(`${answer}: ${m.text}`)
        return { delivered: 1, silent: false }
      } catch {
        return { delivered: 0, silent: false } // core records a failed delivery; the turn still completes
      }
    },
  }
}

describe("messaging connect and stream failures", () => {
  it("a failed boot connect is retried with backoff; ready (and start) only once messaging is live", async () => {
    const faulty = faultyMessaging(DevnetMessaging.layerFromUrl(devnet.url), { failConnects: 3 })
    const i = await instance({
      messaging: faulty.layer,
      reconnect: { baseMs: 100, maxMs: 400 },
      dispatch: async () => ({ delivered: 0, silent: true }),
    })
    let started = false
    const start = i.convos.start().then(() => void (started = true))
    await sleep(150)
    expect(started).toBe(false)
    expect((await i.call("/pool/health")).body.ready).toBe(false)
    expect((await i.call("/convos/status")).status).toBe(503)
    await start // resolves, does not reject: the 4th connect works
    expect(faulty.stats.connects).toBe(4)
    expect((await i.call("/pool/health")).body.ready).toBe(true)
    expect(i.logs.filter((l) => l.includes("connect attempt")).length).toBe(3)
    // a second start (a channel restart) with messaging live returns at once and stays ready
    await i.convos.start()
    expect(faulty.stats.connects).toBe(4)
    const provisioned = await i.call("/pool/provision", {
      method: "POST",
      body: { agentName: "Late", instructions: "" },
    })
    expect(provisioned.status).toBe(200)
  }, 30_000)

  it("a dropped message stream makes the instance not ready until it restarts, then it hears messages again", async () => {
    const faulty = faultyMessaging(DevnetMessaging.layerFromUrl(devnet.url), { failStreams: 1, streamFailAfterMs: 300 })
    const agent = dedupingAgent("ECHO")
    const i = await instance({
      messaging: faulty.layer,
      reconnect: { baseMs: 1_000, maxMs: 1_000 },
      env: { OPENROUTER_API_KEY: "sk-test" },
      dispatch: agent.dispatch,
    })
    await i.convos.start()
    await until("the stream to drop", async () => (await i.call("/pool/health")).body.ready === false, 5_000)
    await until("the stream to come back", async () => (await i.call("/pool/health")).body.ready === true, 5_000)
    expect(faulty.stats.streams).toBe(2)
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const person = yield* connectPerson(devnet.url, "stream person")
          const res = yield* Effect.promise(() =>
            i.call("/pool/provision", { method: "POST", body: { agentName: "Echo", instructions: "" } }),
          )
          yield* joinInvite(person, res.body.inviteUrl)
          const at = Date.now()
          yield* person.client.sendText(res.body.conversationId, "still there?")
          expect(yield* waitForText(person, res.body.conversationId, (t) => t.startsWith("ECHO"), at - 1, 10_000)).toBe(
            "ECHO: still there?",
          )
        }),
      ),
    )
  }, 30_000)
})

describe("replies that cannot be sent", () => {
  it("a failed send rejects the delivery; the retry is a new turn id (core would skip the same one as a duplicate) and its reply arrives", async () => {
    const faulty = faultyMessaging(DevnetMessaging.layerFromUrl(devnet.url), {
      failSendsMatching: (t) => t.startsWith("ANSWER"),
      failSends: 1,
    })
    const agent = dedupingAgent("ANSWER")
    const i = await instance({
      messaging: faulty.layer,
      env: { OPENROUTER_API_KEY: "sk-test" },
      retryDelayMs: 100,
      dispatch: agent.dispatch,
    })
    await i.convos.start()
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const person = yield* connectPerson(devnet.url, "retry person")
          const res = yield* Effect.promise(() =>
            i.call("/pool/provision", { method: "POST", body: { agentName: "Retry", instructions: "" } }),
          )
          yield* joinInvite(person, res.body.inviteUrl)
          const at = Date.now()
          yield* person.client.sendText(res.body.conversationId, "hello")
          expect(
            yield* waitForText(person, res.body.conversationId, (t) => t.startsWith("ANSWER"), at - 1, 10_000),
          ).toBe("ANSWER: hello")
        }),
      ),
    )
    expect(faulty.stats.failedSends).toBe(1)
    expect(agent.turns).toHaveLength(2)
    expect(agent.turns[1]).toBe(`${agent.turns[0]}:retry-1`)
    expect(i.logs.some((l) => l.includes("could not be sent") && l.includes("test: send failed"))).toBe(true)
  }, 30_000)

  it("a reply that never goes out is not counted as delivered: after the retry the person gets the apology", async () => {
    const faulty = faultyMessaging(DevnetMessaging.layerFromUrl(devnet.url), {
      failSendsMatching: (t) => t.startsWith("ANSWER"),
    })
    const agent = dedupingAgent("ANSWER")
    const i = await instance({
      messaging: faulty.layer,
      env: { OPENROUTER_API_KEY: "sk-test" },
      retryDelayMs: 100,
      dispatch: agent.dispatch,
    })
    await i.convos.start()
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const person = yield* connectPerson(devnet.url, "apology person")
          const res = yield* Effect.promise(() =>
            i.call("/pool/provision", { method: "POST", body: { agentName: "Sorry", instructions: "" } }),
          )
          yield* joinInvite(person, res.body.inviteUrl)
          const at = Date.now()
          yield* person.client.sendText(res.body.conversationId, "anyone?")
          const text = yield* waitForText(
            person,
            res.body.conversationId,
            (t) => t.startsWith("Sorry,"),
            at - 1,
            10_000,
          )
          expect(text).toBe("Sorry, I could not come up with an answer just now. Please try again.")
        }),
      ),
    )
    expect(faulty.stats.failedSends).toBe(2)
  }, 30_000)
})

describe("joins that wait for the owner", () => {
  it("a provision join that is pending records its conversation once the owner accepts, and /pool/health reports it", async () => {
    const i = await instance({
      messaging: DevnetMessaging.layerFromUrl(devnet.url),
      env: { CONVOS_JOIN_WAIT_MS: "500" },
      dispatch: async () => ({ delivered: 0, silent: true }),
    })
    await i.convos.start()
    const owner = generateIdentity()
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const messaging = yield* Effect.provide(Messaging, DevnetMessaging.layerFromUrl(devnet.url))
          const client = yield* messaging.connect(owner, { label: "late owner" })
          const tag = randomTag()
          const group = yield* client.createGroup([], { name: "Owner's trip", appData: encodeMetadata({ tag }) })
          const joinUrl = inviteUrlBase("dev") + createInviteSlug(owner, { conversationId: group.id, tag })
          const res = yield* Effect.promise(() =>
            i.call("/pool/provision", { method: "POST", body: { agentName: "Joiner", instructions: "", joinUrl } }),
          )
          expect(res.status).toBe(200)
          expect(res.body).toMatchObject({ joined: false, pending: true })
          expect((yield* Effect.promise(() => i.call("/pool/health"))).body.conversationId).toBeNull()
          // the owner's device comes online and accepts the join request
          const serving = yield* serveJoinRequests(client, owner).pipe(Effect.forkScoped)
          yield* Effect.promise(() =>
            until(
              "the background join to finish",
              async () => (await i.call("/pool/health")).body.conversationId === group.id,
              20_000,
            ),
          )
          yield* Fiber.interrupt(serving)
          const status = yield* Effect.promise(() => i.call("/convos/status"))
          expect(status.body).toMatchObject({ conversationId: group.id, provisioned: true })
          expect(status.body.conversations).toContain(group.id)
        }),
      ),
    )
  }, 40_000)
})
