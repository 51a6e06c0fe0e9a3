import { mkdtempSync, rmSync } from "node:fs"
import { createServer, type IncomingMessage, type Server } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, layer } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { testDatabaseWith } from "@convos-agents/pool-core/testing/db"
import { DevnetServer } from "@convos-agents/messaging"
import { DevnetMessaging } from "@convos-agents/messaging"
import { type TcpSwitch, tcpSwitch, throughSwitch } from "@convos-agents/pool-core/testing/tcp-switch"
import { ManagerBot } from "../src/ManagerBot.ts"
import { admin, botTestLayer, openManagerChat } from "./helpers.ts"

// Supervision through the real parts: the real bot on a real devnet and a real database, with faults injected on the
// wire. (1) The bot's message stream fails (the devnet answers its long poll with an error): the stream restarts with
// backoff, the ops chat is told, and the bot answers again. (2) The database is unreachable for 5 s (every connection
// cut, reconnects refused): a message sent meanwhile is answered once it is back, none is dropped.

/** The default supervision's longest restart delay (pool-core/supervision/supervise.ts). */
const MAX_RESTART_DELAY_MS = 5_000

// ---- a devnet relay that can fail the bot's message stream --------------------------------------------------------

interface PollFaults {
  readonly url: string
  /** Answers the bot's pending long poll (or its next one) with a server error: its message stream fails. */
  readonly failBotStream: () => void
  /** Stream errors injected so far. */
  readonly injected: () => number
}

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString("utf8")
}

/** Passes every call through to the devnet; learns the bot's session from its connect (label "manager-bot"). */
const pollFaultRelay = (devnetUrl: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      let botToken: string | null = null
      let armed = false
      let injected = 0
      const pending = new Set<() => void>()
      const server: Server = createServer(async (req, res) => {
        const text = await readBody(req)
        const path = req.url ?? ""
        const auth = req.headers.authorization
        const fail = () => {
          injected++
          res.writeHead(500, { "content-type": "application/json" })
          res.end(JSON.stringify({ reason: "internal", message: "injected fault: the devnet failed this poll" }))
        }
        const isBotPoll = path === "/v1/poll" && botToken !== null && auth === `Bearer ${botToken}`
        if (isBotPoll && armed) {
          armed = false
          return fail()
        }
        const aborter = new AbortController()
        let failed = false
        const failNow = () => {
          failed = true
          aborter.abort()
        }
        if (isBotPoll) pending.add(failNow)
        try {
          const upstream = await fetch(`${devnetUrl}${path}`, {
            method: "POST",
            headers: { "content-type": "application/json", ...(auth ? { authorization: auth } : {}) },
            body: text,
            signal: aborter.signal,
          })
          const answer = await upstream.text()
          if (
            path === "/v1/connect" &&
            upstream.ok &&
            (JSON.parse(text) as { label?: string }).label === "manager-bot"
          ) {
            botToken = (JSON.parse(answer) as { token: string }).token
          }
          res.writeHead(upstream.status, { "content-type": "application/json" })
          res.end(answer)
        } catch (e) {
          if (failed) return fail()
          res.writeHead(502, { "content-type": "application/json" })
          res.end(JSON.stringify({ reason: "network", message: String(e) }))
        } finally {
          pending.delete(failNow)
        }
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      const faults: PollFaults = {
        url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
        failBotStream: () => {
          if (pending.size === 0) armed = true
          for (const f of [...pending]) f()
        },
        injected: () => injected,
      }
      return { faults, server }
    }),
    ({ server }) =>
      Effect.promise(() => {
        server.closeAllConnections()
        return new Promise((resolve) => server.close(resolve))
      }),
  ).pipe(Effect.map(({ faults }) => faults))

let pollFaults: PollFaults | null = null
/** A devnet whose Messaging (the bot's and everyone's in the test) goes through the relay. */
const relayedDevnet = Layer.unwrap(
  Effect.gen(function* () {
    const dataDir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "convos-supervision-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
    )
    const server = DevnetServer.layer({ port: 0, dataDir })
    const messaging = Layer.unwrap(
      Effect.gen(function* () {
        const devnet = yield* DevnetServer
        pollFaults = yield* pollFaultRelay(devnet.url)
        return DevnetMessaging.layerFromUrl(pollFaults.url)
      }),
    )
    return Layer.provideMerge(messaging, server)
  }),
)

// ---- a database behind a switch ------------------------------------------------------------------------------------

let databaseSwitch: TcpSwitch | null = null
const switchedDatabase = testDatabaseWith({
  via: (url) =>
    Effect.gen(function* () {
      const u = new URL(url)
      databaseSwitch = yield* tcpSwitch({ host: u.hostname, port: Number(u.port || 5432) })
      return throughSwitch(url, databaseSwitch)
    }),
})

/** Waits for the bot's next text in the chat after `before` texts; returns it with how long it took. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const started = Date.now()
    const value = yield* effect
    return { value, ms: Date.now() - started }
  })

describe("manager bot supervision", () => {
  layer(botTestLayer({ messaging: relayedDevnet, env: { ALERT_INTERVAL_MS: "600000" } }), {
    timeout: "120 seconds",
    excludeTestServices: true,
  })("message stream", (it) => {
    it.effect(
      "after a stream error the bot restarts its stream with backoff, tells the ops chat, and answers again",
      () =>
        Effect.gen(function* () {
          const bot = yield* ManagerBot
          const ops = yield* openManagerChat("Admin", bot.opsInviteUrl, admin)
          const ada = yield* openManagerChat("Ada")
          // Baseline: how long an answer takes on this machine right now.
          const baseline = yield* timed(ada.say("/help"))
          assert.include(baseline.value[0], "/new")

          const opsBefore = (yield* ops.botTexts()).length
          pollFaults!.failBotStream()
          for (let i = 0; i < 100 && pollFaults!.injected() === 0; i++) yield* Effect.sleep(20)
          assert.strictEqual(pollFaults!.injected(), 1, "the bot's stream got the error")

          // Answered again within the longest restart delay plus a few answer times (the bound is 10 s).
          const bound = MAX_RESTART_DELAY_MS + 4 * baseline.ms + 1_000
          const before = (yield* ada.botTexts()).length
          const again = yield* timed(
            Effect.gen(function* () {
              yield* ada.client.sendText(ada.chatId, "/templates")
              return yield* ada.waitForBotTexts(before + 1, bound)
            }),
          )
          assert.include(again.value[before], "/new")
          console.log(
            `answer after a stream error: ${again.ms} ms (baseline answer ${baseline.ms} ms, bound ${bound} ms)`,
          )

          const warnings = yield* ops.waitForBotTexts(opsBefore + 1, bound)
          assert.isTrue(
            warnings
              .slice(opsBefore)
              .some(
                (t) => t.includes("message stream stopped") && t.includes("injected fault") && t.includes("restarting"),
              ),
            JSON.stringify(warnings.slice(opsBefore)),
          )
        }),
    )
  })

  layer(botTestLayer({ database: switchedDatabase }), { timeout: "120 seconds", excludeTestServices: true })(
    "database outage",
    (it) => {
      it.effect("a message sent while the database is down for 5 s is answered once it is back", () =>
        Effect.gen(function* () {
          const ada = yield* openManagerChat("Ada")
          assert.include((yield* ada.say("/templates"))[0], "/new")
          const before = (yield* ada.botTexts()).length

          databaseSwitch!.off()
          yield* ada.client.sendText(ada.chatId, "/templates")
          yield* Effect.sleep(Duration.seconds(5))
          const refused = databaseSwitch!.refused()
          const duringOutage = (yield* ada.botTexts()).length - before
          databaseSwitch!.on()
          assert.isAbove(refused, 0, "the bot really tried the database during the outage")
          assert.strictEqual(duringOutage, 0, "nothing could be answered without the database")

          // Once it is back: answered (the retry waits at most its longest delay before trying again).
          const maxRetryDelay = Duration.toMillis(Duration.seconds(2))
          const answered = yield* ada.waitForBotTexts(before + 1, 15_000 + maxRetryDelay)
          assert.include(answered[before], "/new", "the templates list, not an error")
        }),
      )
    },
  )
})
