// npm run bench:runtime — real agent instances (OpenClaw gateway + convos plugin) started by the local compute layer
// against a devnet and a fake OpenAI-compatible LLM on loopback. Measures: cold start to ready (median/max over the
// instances), RSS of each idle instance (whole process group), provision → invite latency over real provisions only
// (one POST /pool/provision per warm instance — a second one is refused — each invite URL decoded and checked), and
// on the first provisioned agent: repeated POST /convos/conversation (create conversation + invite, reported apart)
// and the first agent reply.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, ManagedRuntime } from "effect"
import { parseInvite } from "../messaging/convos/index.ts"
import { Compute } from "../pool-core/providers/compute/Compute.ts"
import { localComputeLayer } from "../pool-core/providers/compute/local/index.ts"
import { connectPerson, joinInvite, waitForText } from "../runtime/test/support/chatClient.ts"
import { startTestDevnet } from "../runtime/test/support/devnet.ts"
import { startFakeLlm } from "../runtime/test/support/fakeLlm.ts"
import { percentileMeasures, reportBench, type Measure } from "./lib.ts"

const TOKEN = "bench-token"
const SAMPLES = Number(process.env.BENCH_RUNTIME_SAMPLES ?? 20)
/** Warm instances, one real provision each (~1.2 GB RSS per instance). */
const INSTANCES = Math.max(1, Number(process.env.BENCH_RUNTIME_INSTANCES ?? 3))
/** Instances starting at once (a gateway start is CPU-bound; this machine has 2 cores). */
const START_CONCURRENCY = Math.max(1, Number(process.env.BENCH_RUNTIME_START_CONCURRENCY ?? 2))
const READY_TIMEOUT_MS = 240_000
const IDLE_MS = 20_000

/** RSS (MB) of every process in the group led by `pgid` (runtime CLI, gateway, its workers/children). */
const groupRssMb = (pgid: number): { total: number; largest: number; processes: number } => {
  let total = 0
  let largest = 0
  let processes = 0
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      if (Number(fields[2]) !== pgid) continue // field 5 = pgrp
      const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${entry}/status`, "utf8"))?.[1] ?? 0)
      total += rssKb / 1024
      largest = Math.max(largest, rssKb / 1024)
      processes++
    } catch {}
  }
  return { total, largest, processes }
}

const post = async (url: string, body: unknown) => {
  const t0 = performance.now()
  const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) })
  const json = (await res.json()) as Record<string, any>
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${JSON.stringify(json)}`)
  return { ms: performance.now() - t0, json }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const getJson = async (url: string) => {
  const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } })
  const json = (await res.json()) as Record<string, any>
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${JSON.stringify(json)}`)
  return json
}

/** Runs `f` over `items` with at most `limit` in flight, results in input order. */
const boundedAll = async <A, B>(items: ReadonlyArray<A>, limit: number, f: (a: A, i: number) => Promise<B>): Promise<B[]> => {
  const out: B[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await f(items[i]!, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

const sorted = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)
const median = (xs: ReadonlyArray<number>) => {
  const s = sorted(xs)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

interface Warm {
  readonly id: string
  readonly url: string
  readonly pid: number
  readonly coldStartS: number
}

const main = async () => {
  const benchStart = performance.now()
  const devnet = await startTestDevnet()
  const llm = await startFakeLlm()
  const dataDir = mkdtempSync(join(tmpdir(), "bench-runtime-"))
  const compute = ManagedRuntime.make(localComputeLayer({ dataDir, baseEnv: { DEVNET_URL: devnet.url, OPENROUTER_BASE_URL: llm.baseUrl } }))
  const withCompute = <A, E>(f: (c: Compute["Service"]) => Effect.Effect<A, E>) => compute.runPromise(Effect.flatMap(Compute, f))
  // Instances run in their own process groups (so a manager can re-adopt them): stop them on Ctrl-C too.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () =>
      void compute.dispose().then(() => devnet.close()).finally(() => {
        rmSync(dataDir, { recursive: true, force: true })
        process.exit(130)
      }))
  }
  const logTail = (id: string) => {
    try {
      return readFileSync(join(dataDir, "instances", id, "runtime.log"), "utf8").split("\n").slice(-15).join("\n")
    } catch {
      return "(no runtime.log)"
    }
  }
  try {
    // 1. Start N instances, at most START_CONCURRENCY at once; each one's cold start runs from its create to ready.
    const ids = Array.from({ length: INSTANCES }, (_, i) => `bench-runtime-${i + 1}`)
    const warm = await boundedAll(ids, START_CONCURRENCY, async (id): Promise<Warm> => {
      const t0 = performance.now()
      const handle = await withCompute((c) => c.create({ instanceId: id, instanceToken: TOKEN, env: {} }))
      const url = handle.url!
      for (;;) {
        try {
          const r = await fetch(`${url}/pool/health`)
          if (r.headers.get("content-type")?.includes("json") && ((await r.json()) as { ready: boolean }).ready) break
        } catch {}
        if (performance.now() - t0 > READY_TIMEOUT_MS) throw new Error(`instance ${id} not ready within ${READY_TIMEOUT_MS / 1000} s; runtime.log:\n${logTail(id)}`)
        await sleep(250)
      }
      const coldStartS = (performance.now() - t0) / 1000
      const pid = (JSON.parse(readFileSync(join(dataDir, "instances", id, "instance.json"), "utf8")) as { pid: number }).pid
      console.log(`${id} ready after ${coldStartS.toFixed(1)} s`)
      return { id, url, pid, coldStartS }
    })
    console.log(`${INSTANCES} instance(s) ready; idling ${IDLE_MS / 1000} s before measuring memory…`)
    await sleep(IDLE_MS)
    const rss = warm.map((w) => groupRssMb(w.pid))

    // 2. One real provision per warm instance, one after another (each on an idle instance); time request → invite
    //    URL in the response, then check the URL is a valid Convos invite made by that instance's inbox.
    const provisions: Array<{ ms: number; conversationId: string; inviteUrl: string }> = []
    for (const [i, w] of warm.entries()) {
      const { inboxId } = await getJson(`${w.url}/convos/status`)
      const agentName = `Bench Agent ${i + 1}`
      const { ms, json } = await post(`${w.url}/pool/provision`, { agentName, instructions: "Be brief.", env: { OPENROUTER_API_KEY: "sk-bench" } })
      if (typeof json.inviteUrl !== "string") throw new Error(`${w.id}: provision returned no invite URL: ${JSON.stringify(json)}`)
      const invite = parseInvite(json.inviteUrl) // throws InviteError when it is not a well-formed, signed, unexpired invite
      if (invite.payload.creatorInboxId !== inboxId) throw new Error(`${w.id}: invite creator ${invite.payload.creatorInboxId} is not the agent's inbox ${inboxId}`)
      if (invite.payload.name !== agentName) throw new Error(`${w.id}: invite names "${invite.payload.name}", expected "${agentName}"`)
      if (!/^[A-Za-z0-9]{10}$/.test(invite.payload.tag)) throw new Error(`${w.id}: invite tag "${invite.payload.tag}" is malformed`)
      console.log(`${w.id} provisioned in ${ms.toFixed(0)} ms; invite OK (signer ${invite.signerAddress})`)
      provisions.push({ ms, conversationId: json.conversationId, inviteUrl: json.inviteUrl })
    }
    // A second provision is refused: check it once, outside the timings.
    const again = await fetch(`${warm[0]!.url}/pool/provision`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ agentName: "Again", instructions: "x" }),
    })
    if (again.ok) throw new Error("a second provision of the same instance was accepted")

    // The remaining figures use the first agent only: stop the others so they do not compete for the 2 cores.
    for (const w of warm.slice(1)) await withCompute((c) => c.destroy(w.id))
    const first = warm[0]!

    // 3. Create conversation + invite on the provisioned agent (the same create-group + invite path, no provision).
    const createMs: number[] = []
    for (let i = 0; i < SAMPLES; i++) createMs.push((await post(`${first.url}/convos/conversation`, { name: `Bench ${i}` })).ms)

    // 4. First agent reply in the agent's own conversation, joined through its provision invite.
    const firstReplyMs = await Effect.runPromise(Effect.scoped(Effect.gen(function* () {
      const person = yield* connectPerson(devnet.url, "bench person")
      yield* joinInvite(person, provisions[0]!.inviteUrl)
      const sent = Date.now()
      yield* person.client.sendText(provisions[0]!.conversationId, "ping bench")
      yield* waitForText(person, provisions[0]!.conversationId, (t) => t.startsWith("FAKE-REPLY"), sent - 1, 180_000)
      return Date.now() - sent
    })))

    const cold = warm.map((w) => w.coldStartS)
    const prov = sorted(provisions.map((p) => p.ms))
    // A handful of real provisions: their median and max, not percentiles (a "p95" of 3 samples is the max).
    const provMedian = median(prov)
    const createLatency = percentileMeasures(createMs, "ms", [
      { p: 50, measure: `create conversation + invite on a provisioned agent p50 (${SAMPLES} × POST /convos/conversation)` },
      { p: 95, measure: "create conversation + invite on a provisioned agent p95" },
    ])
    const measures: Measure[] = [
      { measure: `runtime cold start to ready, median of ${INSTANCES} (≤ ${START_CONCURRENCY} starting at once)`, value: median(cold), unit: "s" },
      { measure: "runtime cold start to ready, max", value: Math.max(...cold), unit: "s" },
      { measure: "runtime idle RSS per instance (process group), median", value: median(rss.map((r) => r.total)), unit: "MB" },
      { measure: "runtime idle RSS per instance (process group), max", value: Math.max(...rss.map((r) => r.total)), unit: "MB" },
      { measure: "runtime idle RSS (largest process: gateway), median", value: median(rss.map((r) => r.largest)), unit: "MB" },
      { measure: `provision → invite, median of ${INSTANCES} real provisions (one per warm instance)`, value: provMedian, unit: "ms", target: "≤ 1500 ms", pass: provMedian <= 1500 },
      { measure: "provision → invite max", value: prov[prov.length - 1]!, unit: "ms" },
      ...createLatency.measures,
      { measure: "first agent reply after provision (fake LLM, includes config hot reload)", value: firstReplyMs / 1000, unit: "s" },
    ]
    reportBench("runtime", measures, [
      `${INSTANCES} instances (BENCH_RUNTIME_INSTANCES), ≤ ${START_CONCURRENCY} starting at once; cold starts: ${cold.map((c) => c.toFixed(1)).join(", ")} s; provisions: ${provisions.map((p) => p.ms.toFixed(0)).join(", ")} ms; every invite URL decoded and checked (signed, creator inbox, name, tag)`,
      `${rss.map((r) => r.processes).join("/")} processes in the instances' groups; 2-core machine shared with other work, figures are indicative`,
      "messaging: devnet on loopback; model: fake OpenAI-compatible SSE server on loopback",
      ...createLatency.notes,
      `bench wall time ${((performance.now() - benchStart) / 1000).toFixed(0)} s`,
    ])
  } finally {
    await compute.dispose()
    await llm.close()
    await devnet.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(e)
  process.exit(1)
})
