import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Layer, ManagedRuntime, Option, Scope, Tracer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Pool } from "@convos-agents/pool-core"
import { makeApiApp } from "@convos-agents/pool-core/api"
import { ReadinessLive } from "@convos-agents/pool-core/observability"
import { type TcpSwitch, tcpSwitch, throughSwitch } from "@convos-agents/pool-core/testing/tcp-switch"
import { DevnetMessaging, DevnetServer, metered } from "@convos-agents/messaging"
import { ManagerBot } from "../src/ManagerBot.ts"
import { admin, botTestParts, openManagerChat, type Person } from "./helpers.ts"

// The bot's observability through the real parts: the real manager bot on a devnet (messaging metered as `npm start`
// meters it) and a real database, people sending real commands. Read back as an operator reads it: the Prometheus
// text of /metrics (bot commands by command and outcome, their latency, messages sent/received/failed), the
// `bot.command` spans (collected in memory by a Tracer of the test's own, the exporter's place), and /readyz, which
// names messaging when the devnet is cut off (a TCP switch in front of it).

const KEY = "observability-key-0123456789"
const bearer = { authorization: `Bearer ${KEY}` }

const spans: Array<Tracer.NativeSpan> = []
const tracer = Tracer.make({
  span(options) {
    const span = new Tracer.NativeSpan(options)
    spans.push(span)
    return span
  },
})

let devnetSwitch: TcpSwitch | null = null
/** A devnet reached only through a switch the test can turn off; every client of the test is metered. */
const switchedDevnet = Layer.unwrap(
  Effect.gen(function* () {
    const dataDir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "convos-observability-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
    )
    const server = DevnetServer.layer({ port: 0, dataDir })
    const messaging = Layer.unwrap(
      Effect.gen(function* () {
        const devnet = yield* DevnetServer
        const u = new URL(devnet.url)
        devnetSwitch = yield* tcpSwitch({ host: u.hostname, port: Number(u.port) })
        return metered(DevnetMessaging.layerFromUrl(throughSwitch(devnet.url, devnetSwitch).replace(/\/+$/, "")))
      }),
    )
    return Layer.provideMerge(messaging, server)
  }),
)

const { deps, bot } = botTestParts({ messaging: switchedDevnet })
const runtime = ManagedRuntime.make(
  bot.pipe(
    Layer.provideMerge(ReadinessLive),
    Layer.provideMerge(deps),
    Layer.provideMerge(Layer.succeed(Tracer.Tracer, tracer)),
  ),
)
// The people's message streams live as long as the test file.
const people = Scope.makeUnsafe()
const app = makeApiApp(runtime, { apiKey: KEY, trustProxy: 0 })

// Building and stopping the bot, its pool and a database takes minutes on a loaded 2-core machine.
const HOOK_TIMEOUT = 600_000
beforeAll(() => runtime.runPromise(Effect.void), HOOK_TIMEOUT)
afterAll(async () => {
  await Effect.runPromise(Scope.close(people, Exit.void))
  await runtime.dispose()
}, HOOK_TIMEOUT)

const run = <A, E>(effect: Effect.Effect<A, E, any>) => runtime.runPromise(effect as Effect.Effect<A, E, never>)
const open = (name: string, url?: string, identity?: Person["id"]) =>
  run(
    Effect.flatMap(ManagerBot, (b) =>
      openManagerChat(name, url ?? b.inviteUrl(), identity).pipe(Scope.provide(people)),
    ),
  )

const get = (path: string, headers: Record<string, string> = {}) =>
  app.fetch(new Request(`http://127.0.0.1${path}`, { headers }))
const scrape = async () => {
  const res = await get("/metrics", bearer)
  expect(res.status).toBe(200)
  return await res.text()
}
/** Sum of a metric's samples whose labels include all of `labels` (Prometheus text). */
const sum = (text: string, metric: string, labels: ReadonlyArray<string> = []) =>
  text
    .split("\n")
    .filter((l) => (l.startsWith(`${metric}{`) || l.startsWith(`${metric} `)) && labels.every((x) => l.includes(x)))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0)
const readyz = async () => {
  const res = await get("/readyz", bearer)
  return {
    status: res.status,
    body: (await res.json()) as { ready: boolean; checks: Array<{ name: string; ok: boolean; detail?: string }> },
  }
}
const until = async <A>(read: () => Promise<A>, check: (a: A) => boolean): Promise<A> => {
  for (;;) {
    const a = await read()
    if (check(a)) return a
    await new Promise((r) => setTimeout(r, 100))
  }
}
const parentOf = (s: Tracer.Span) => Option.getOrUndefined(s.parent) as Tracer.Span | undefined

describe("manager bot observability", { timeout: 300_000 }, () => {
  it("bot commands are counted by command and outcome with their latency, and messages sent and received are counted", async () => {
    const ada = await open("Ada")
    const ops = await open("Admin", await run(Effect.map(ManagerBot, (b) => b.opsInviteUrl)), admin)
    await run(Effect.flatMap(Pool, (p) => p.replenish(1).pipe(Effect.andThen(p.tick))))
    const idle = await run(Effect.flatMap(Pool, (p) => p.list({ status: ["idle"] })))
    expect(idle.length).toBeGreaterThan(0)
    const before = await scrape()

    expect((await run(ada.say("/templates")))[0]).toContain("trip-planner")
    expect((await run(ada.say("/help")))[0]).toContain("/new")
    expect((await run(ada.say("/frobnicate")))[0]).toContain("I don't know /frobnicate")
    // A command that answers a refusal: dismissing an idle instance (only crashed or dead ones can be).
    expect((await run(ops.say(`/dismiss ${idle[0]!.id.slice(0, 8)}`)))[0]).toContain(
      "only crashed or dead instances can be dismissed",
    )
    // A command is counted when it ends, just after its reply is sent, and a send is counted when the send returns:
    // the person can read the reply a moment before. Wait until all 4 are counted (the test's timeout bounds it).
    const since = (text: string, metric: string, labels: ReadonlyArray<string> = []) =>
      sum(text, metric, labels) - sum(before, metric, labels)
    const after = await until(
      scrape,
      (t) =>
        ["templates", "help", "unknown", "dismiss"].every(
          (c) => since(t, "bot_commands_total", [`command="${c}"`]) >= 1,
        ) && since(t, "messaging_messages_sent_total") >= 8,
    )
    const delta = (metric: string, labels: ReadonlyArray<string> = []) => since(after, metric, labels)

    expect(delta("bot_commands_total", ['command="templates"', 'outcome="ok"'])).toBe(1)
    expect(delta("bot_commands_total", ['command="help"', 'outcome="ok"'])).toBe(1)
    expect(delta("bot_commands_total", ['command="unknown"', 'outcome="unknown"'])).toBe(1)
    // Refused, not "ok": the command answered with the pool's StaleTransition.
    expect(delta("bot_commands_total", ['command="dismiss"', 'outcome="StaleTransition"'])).toBe(1)
    expect(delta("bot_commands_total", ['command="dismiss"', 'outcome="ok"'])).toBe(0)
    // The latency histogram has one observation per command run, in its buckets and its sum.
    expect(delta("bot_command_duration_seconds_count", ['command="templates"'])).toBe(1)
    expect(delta("bot_command_duration_seconds_bucket", ['command="templates"', 'le="+Inf"'])).toBe(1)
    expect(delta("bot_command_duration_seconds_sum", ['command="templates"'])).toBeGreaterThan(0)
    expect(after).toContain("# TYPE bot_command_duration_seconds histogram")

    // Messaging: the 4 commands and the 4 answers, each sent by a metered client; each command received on the bot's
    // stream and each answer on the person's (at least: streams also see their own messages).
    expect(delta("messaging_messages_sent_total")).toBeGreaterThanOrEqual(8)
    expect(delta("messaging_messages_received_total")).toBeGreaterThanOrEqual(8)
    expect(after).toContain("# TYPE messaging_errors_total counter")
  })

  it("each command runs in a bot.command span naming the command, its chat and its outcome, with its reply under it", async () => {
    const bob = await open("Bob")
    expect((await run(bob.say("/templates")))[0]).toContain("trip-planner")
    expect((await run(bob.say("/release Nobody")))[0]).toContain("You have no agents yet")
    // A span ends when its command does, just after the reply is sent: wait for Bob's two.
    const ended = (s: Tracer.NativeSpan) => s.status._tag === "Ended"
    const commands = await until(
      async () => spans.filter((s) => s.name === "bot.command"),
      (cs) => cs.filter((s) => s.attributes.get("bot.command") === "templates").length >= 2 && cs.every(ended),
    )
    const templates = commands.filter((s) => s.attributes.get("bot.command") === "templates")
    for (const s of templates) {
      expect(s.attributes.get("bot.scope")).toBe("user")
      expect(s.attributes.get("bot.outcome")).toBe("ok")
      expect(s.status._tag).toBe("Ended")
    }
    const dismiss = commands.find((s) => s.attributes.get("bot.command") === "dismiss")
    expect(dismiss?.attributes.get("bot.scope")).toBe("ops")
    expect(dismiss?.attributes.get("bot.outcome")).toBe("StaleTransition")
    expect(commands.some((s) => s.attributes.get("bot.command") === "release")).toBe(true)
    // The answer is sent inside the command's span: a messaging.send span under it, in its trace.
    const last = templates.at(-1)!
    const sends = spans.filter((s) => s.name === "messaging.send" && parentOf(s)?.spanId === last.spanId)
    expect(sends.length).toBeGreaterThanOrEqual(1)
    expect(sends[0]!.traceId).toBe(last.traceId)
  })

  it("/readyz answers 503 naming messaging while the devnet is unreachable, counts the failures, and is ready again after", async () => {
    const ready = await until(readyz, (r) => r.status === 200)
    expect(ready.body.checks.find((c) => c.name === "messaging")).toMatchObject({ ok: true })
    const before = await scrape()
    devnetSwitch!.off()
    try {
      const down = await until(readyz, (r) => r.status === 503)
      expect(down.body.ready).toBe(false)
      const messaging = down.body.checks.find((c) => c.name === "messaging")!
      expect(messaging.ok).toBe(false)
      expect(messaging.detail).toMatch(/devnet|no answer within/)
      // The database is fine: only messaging is named.
      expect(down.body.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["messaging"])
      const failing = await until(
        scrape,
        (t) => sum(t, "messaging_errors_total") > sum(before, "messaging_errors_total"),
      )
      expect(sum(failing, "messaging_errors_total", ['operation="conversation"'])).toBeGreaterThan(
        sum(before, "messaging_errors_total", ['operation="conversation"']),
      )
    } finally {
      devnetSwitch!.on()
    }
    const back = await until(readyz, (r) => r.status === 200)
    expect(back.body.checks.find((c) => c.name === "messaging")).toMatchObject({ ok: true })
  })
})
