// npm run bench:messaging — devnet throughput (messages/s) and delivery latency (p50/p99) between two processes.
// Three processes: the devnet server (server-cli), a receiver (this file with --receiver) streaming the group, and this
// process as the sender. Latency = receive time − send time, both from the shared machine clock (performance.timeOrigin +
// performance.now(), sub-millisecond). Phase 1 sends paced messages (latency without queueing); phase 2 a burst with a
// fixed number in flight (throughput until the receiver has seen the last one).
import { Effect, Fiber, Stream } from "effect"
import { spawn, type ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { generateIdentity } from "../messaging/identity.ts"
import { makeDevnetMessaging } from "../messaging/devnet/DevnetMessaging.ts"
import { percentileMeasures, reportBench } from "./lib.ts"

const now = () => performance.timeOrigin + performance.now()
const PACED = Number(process.env.BENCH_MESSAGING_PACED ?? 300)
const PACE_MS = 5
const BURST = Number(process.env.BENCH_MESSAGING_BURST ?? 2000)
const IN_FLIGHT = 16
const here = fileURLToPath(import.meta.url)
const serverCli = fileURLToPath(new URL("../messaging/devnet/server-cli.ts", import.meta.url))

/** Receiver role: connect, print its inbox id, then print "<tag> <latency ms>" for every bench message it streams. */
const receiver = (url: string) =>
  Effect.gen(function* () {
    const client = yield* makeDevnetMessaging(url).connect(generateIdentity(), { label: "bench-receiver" })
    console.log(`inbox ${client.inboxId}`)
    yield* client.stream().pipe(
      Stream.runForEach((m) =>
        Effect.sync(() => {
          const [tag, sent] = (m.text ?? "").split(" ")
          if (tag === "paced" || tag === "burst") console.log(`${tag} ${(now() - Number(sent)).toFixed(3)}`)
          if (tag === "stop") process.exit(0)
        }),
      ),
    )
  }).pipe(Effect.scoped)

const lines = (child: ChildProcess) => createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
const firstMatch = async (it: AsyncIterator<string>, re: RegExp) => {
  for (;;) {
    const { value, done } = await it.next()
    if (done) throw new Error(`process ended before printing ${re}`)
    const m = (value as string).match(re)
    if (m) return m[1]!
  }
}

const sender = Effect.gen(function* () {
  const dir = mkdtempSync(join(tmpdir(), "convos-bench-messaging-"))
  const children: ChildProcess[] = []
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      for (const c of children) if (c.exitCode === null) c.kill("SIGTERM")
      rmSync(dir, { recursive: true, force: true })
    }),
  )
  const server = spawn(process.execPath, ["--import", "tsx", serverCli, "--port", "0", "--data", dir], {
    stdio: ["ignore", "pipe", "inherit"],
  })
  children.push(server)
  const url = yield* Effect.promise(() => firstMatch(lines(server), /devnet listening on (\S+)/))
  const recv = spawn(process.execPath, ["--import", "tsx", here, "--receiver", url], {
    stdio: ["ignore", "pipe", "inherit"],
  })
  children.push(recv)
  const recvLines = lines(recv)
  const receiverInbox = yield* Effect.promise(() => firstMatch(recvLines, /^inbox (\w+)/))

  const client = yield* makeDevnetMessaging(url).connect(generateIdentity(), { label: "bench-sender" })
  const group = yield* client.createGroup([receiverInbox], { name: "bench" })
  const latencies: number[] = []
  let burstReceived = 0
  let lastBurstAt = 0
  const reading = Effect.promise(async () => {
    for (;;) {
      const { value, done } = await recvLines.next()
      if (done) return
      const [tag, ms] = (value as string).split(" ")
      if (tag === "paced") latencies.push(Number(ms))
      if (tag === "burst" && ++burstReceived === BURST) return void (lastBurstAt = now())
    }
  })
  const readerFiber = yield* Effect.forkScoped(reading)

  for (let i = 0; i < PACED; i++) {
    yield* client.sendText(group.id, `paced ${now()}`)
    yield* Effect.sleep(`${PACE_MS} millis`)
  }
  const burstStart = now()
  yield* Effect.forEach(
    Array.from({ length: BURST }),
    () => Effect.suspend(() => client.sendText(group.id, `burst ${now()}`)),
    { concurrency: IN_FLIGHT, discard: true },
  )
  const sentAllAt = now()
  // Waits for the last burst message; one that never arrives is counted as lost (a guard, not a measure).
  yield* Fiber.join(readerFiber).pipe(Effect.timeoutOption("60 seconds"))
  yield* client.sendText(group.id, "stop 0")
  const pacedLost = PACED - latencies.length
  const burstLost = BURST - burstReceived
  const throughput = burstLost === 0 ? BURST / ((lastBurstAt - burstStart) / 1000) : 0
  const latency = percentileMeasures(latencies, "ms", [
    { p: 50, measure: "devnet delivery latency p50 (paced)" },
    { p: 99, measure: "devnet delivery latency p99 (paced)", target: "≤ 50 ms", pass: (v) => v <= 50 },
  ])
  reportBench(
    "messaging",
    [
      {
        measure: "devnet throughput (send → received by another process; 0 when burst messages were lost)",
        value: throughput,
        unit: "messages/s",
        target: "≥ 200",
        pass: throughput >= 200,
      },
      {
        measure: "devnet send rate (16 in flight)",
        value: BURST / ((sentAllAt - burstStart) / 1000),
        unit: "messages/s",
      },
      ...latency.measures,
      { measure: "paced messages lost", value: pacedLost, unit: "", target: "0", pass: pacedLost === 0 },
      {
        measure: "burst messages lost (none within 60 s of the last send)",
        value: burstLost,
        unit: "",
        target: "0",
        pass: burstLost === 0,
      },
    ],
    [
      `${PACED} paced messages every ${PACE_MS} ms, ${latencies.length} received; burst of ${BURST} with ${IN_FLIGHT} in flight, ${burstReceived} received`,
      "processes: devnet server, receiver (long-poll stream), sender — all on this machine (2 shared cores)",
      ...latency.notes,
    ],
  )
}).pipe(Effect.scoped)

const receiverIndex = process.argv.indexOf("--receiver")
if (receiverIndex >= 0) {
  Effect.runPromise(receiver(process.argv[receiverIndex + 1]!)).catch((e) => {
    console.error(e)
    process.exit(1)
  })
} else {
  Effect.runPromise(sender).then(
    () => process.exit(0),
    (e) => {
      console.error(e)
      process.exit(1)
    },
  )
}
