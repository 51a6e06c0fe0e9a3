// npm run bench:runtime — one real agent instance (OpenClaw gateway + convos plugin) started by the local compute
// layer against a devnet and a fake OpenAI-compatible LLM on loopback. Measures: cold start to ready, RSS of the idle
// instance (whole process group), provision → invite latency on the warm instance (the one real provision plus
// repeated POST /convos/conversation, which runs the same create-group + invite path), and the first agent reply.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, ManagedRuntime } from "effect"
import { Compute } from "../pool-core/providers/compute/Compute.ts"
import { localComputeLayer } from "../pool-core/providers/compute/local/index.ts"
import { connectPerson, joinInvite, waitForText } from "../runtime/test/support/chatClient.ts"
import { startTestDevnet } from "../runtime/test/support/devnet.ts"
import { startFakeLlm } from "../runtime/test/support/fakeLlm.ts"
import { percentile, reportBench, type Measure } from "./lib.ts"

const TOKEN = "bench-token"
const ID = "bench-runtime-1"
const SAMPLES = Number(process.env.BENCH_RUNTIME_SAMPLES ?? 20)

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

const main = async () => {
  const devnet = await startTestDevnet()
  const llm = await startFakeLlm()
  const dataDir = mkdtempSync(join(tmpdir(), "bench-runtime-"))
  const compute = ManagedRuntime.make(localComputeLayer({ dataDir, baseEnv: { DEVNET_URL: devnet.url, OPENROUTER_BASE_URL: llm.baseUrl } }))
  // Instances run in their own process groups (so a manager can re-adopt them): stop them on Ctrl-C too.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () =>
      void compute.dispose().then(() => devnet.close()).finally(() => {
        rmSync(dataDir, { recursive: true, force: true })
        process.exit(130)
      }))
  }
  try {
    const t0 = performance.now()
    const handle = await compute.runPromise(Effect.gen(function* () {
      return yield* (yield* Compute).create({ instanceId: ID, instanceToken: TOKEN, env: {} })
    }))
    const url = handle.url!
    for (;;) {
      try {
        const r = await fetch(`${url}/pool/health`)
        if (r.headers.get("content-type")?.includes("json") && ((await r.json()) as { ready: boolean }).ready) break
      } catch {}
      if (performance.now() - t0 > 240_000) throw new Error("instance not ready within 240 s")
      await new Promise((r) => setTimeout(r, 250))
    }
    const coldStartS = (performance.now() - t0) / 1000
    console.log(`instance ready after ${coldStartS.toFixed(1)} s; idling 20 s before measuring memory…`)
    await new Promise((r) => setTimeout(r, 20_000))
    const pid = (JSON.parse(readFileSync(join(dataDir, "instances", ID, "instance.json"), "utf8")) as { pid: number }).pid
    const rss = groupRssMb(pid)

    const provision = await post(`${url}/pool/provision`, { agentName: "Bench Agent", instructions: "Be brief.", env: { OPENROUTER_API_KEY: "sk-bench" } })
    const createMs: number[] = []
    for (let i = 0; i < SAMPLES; i++) createMs.push((await post(`${url}/convos/conversation`, { name: `Bench ${i}` })).ms)
    const all = [provision.ms, ...createMs].sort((a, b) => a - b)

    const firstReplyMs = await Effect.runPromise(Effect.scoped(Effect.gen(function* () {
      const person = yield* connectPerson(devnet.url, "bench person")
      yield* joinInvite(person, provision.json.inviteUrl)
      const sent = Date.now()
      yield* person.client.sendText(provision.json.conversationId, "ping bench")
      yield* waitForText(person, provision.json.conversationId, (t) => t.startsWith("FAKE-REPLY"), sent - 1, 180_000)
      return Date.now() - sent
    })))
    const p50 = percentile(all, 50)
    const measures: Measure[] = [
      { measure: "runtime cold start to ready", value: coldStartS, unit: "s" },
      { measure: "runtime idle RSS (process group)", value: rss.total, unit: "MB" },
      { measure: "runtime idle RSS (largest process: gateway)", value: rss.largest, unit: "MB" },
      { measure: "provision → invite (first provision, warm instance)", value: provision.ms, unit: "ms" },
      { measure: `provision → invite p50 (provision + ${SAMPLES} × create conversation+invite)`, value: p50, unit: "ms", target: "≤ 1500 ms", pass: p50 <= 1500 },
      { measure: "provision → invite p95", value: percentile(all, 95), unit: "ms" },
      { measure: "first agent reply after provision (fake LLM, includes config hot reload)", value: firstReplyMs / 1000, unit: "s" },
    ]
    reportBench("runtime", measures, [
      `${rss.processes} processes in the instance's group; 2-core machine shared with other work, figures are indicative`,
      "messaging: devnet on loopback; model: fake OpenAI-compatible SSE server on loopback",
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
