// Footprint probe (docs/runtime-footprint.md): `node --import bench/footprint/probe.mjs openclaw.mjs gateway run`.
// Logs worker threads as they start and exit; PROBE_AT_MS="120000,240000" writes <PROBE_OUT>-t<ms>.json (memoryUsage,
// V8 heap spaces, each live worker's heap, thread names, smaps_rollup); PROBE_SNAPSHOT_MS writes a heap snapshot;
// PROBE_PROFILE="0-100000,270000-300000" writes CPU profiles of those windows (ms since the probe loaded).
import { Worker } from "node:worker_threads"
import { readFileSync, readdirSync, writeFileSync, appendFileSync } from "node:fs"
import v8 from "node:v8"
const out = process.env.PROBE_OUT ?? "/tmp/lean/probe"
const t0 = performance.now()
const workers = new Set()
const log = (l) => appendFileSync(`${out}.log`, `${((performance.now() - t0) / 1000).toFixed(2)}s ${l}\n`)
const W = class extends Worker {
  constructor(file, opts) {
    super(file, opts)
    const name = String(file).split("/").slice(-2).join("/").replace(/\s+/g, " ").slice(0, 90)
    log(`worker start ${name} resourceLimits=${JSON.stringify(opts?.resourceLimits ?? null)}`)
    const rec = { name, w: this }
    workers.add(rec)
    this.once("exit", () => {
      workers.delete(rec)
      log(`worker exit ${name}`)
    })
  }
}
const wt = await import("node:worker_threads")
// Patch the module namespace's default export object (ESM named bindings are live only for the default object).
wt.default.Worker = W
;(await import("node:module")).syncBuiltinESMExports()
const report = async (tag) => {
  const mu = process.memoryUsage()
  const spaces = Object.fromEntries(
    v8.getHeapSpaceStatistics().map((s) => [s.space_name, Math.round(s.space_size / 1048576)]),
  )
  const ws = []
  for (const r of workers) {
    try {
      const h = await r.w.getHeapStatistics()
      ws.push({
        name: r.name,
        total: Math.round(h.total_heap_size / 1048576),
        used: Math.round(h.used_heap_size / 1048576),
      })
    } catch (e) {
      ws.push({ name: r.name, err: String(e) })
    }
  }
  const smaps = readFileSync("/proc/self/smaps_rollup", "utf8")
  const threads = readdirSync("/proc/self/task").map((t) => {
    try {
      return readFileSync(`/proc/self/task/${t}/comm`, "utf8").trim()
    } catch {
      return "?"
    }
  })
  const r = {
    tag,
    at: (performance.now() - t0) / 1000,
    rssMb: Math.round(mu.rss / 1048576),
    heapTotal: Math.round(mu.heapTotal / 1048576),
    heapUsed: Math.round(mu.heapUsed / 1048576),
    external: Math.round(mu.external / 1048576),
    arrayBuffers: Math.round(mu.arrayBuffers / 1048576),
    spaces,
    workers: ws,
    threads,
    smaps: smaps
      .split("\n")
      .filter((l) => /Rss|Anonymous|Private/.test(l))
      .join("; "),
  }
  writeFileSync(`${out}-${tag}.json`, JSON.stringify(r, null, 1))
  log(`report ${tag} rss=${r.rssMb}`)
}
process.on("worker", (w) => {
  if (![...workers].some((r) => r.w === w)) {
    const rec = { name: `thread${w.threadId}`, w }
    workers.add(rec)
    log(`worker event ${rec.name}`)
    w.once("exit", () => workers.delete(rec))
  }
})
for (const ms of (process.env.PROBE_AT_MS ?? "").split(",").filter(Boolean))
  setTimeout(() => void report(`t${ms}`), Number(ms)).unref()
if (process.env.PROBE_SNAPSHOT_MS)
  setTimeout(() => {
    log("snapshot start")
    v8.writeHeapSnapshot(`${out}.heapsnapshot`)
    log("snapshot done")
  }, Number(process.env.PROBE_SNAPSHOT_MS)).unref()
// CPU profiles of chosen windows: PROBE_PROFILE="0-40000,70000-100000" (ms since the probe loaded).
if (process.env.PROBE_PROFILE) {
  const { Session } = await import("node:inspector")
  const session = new Session()
  session.connect()
  const post = (m, p = {}) => new Promise((res, rej) => session.post(m, p, (e, r) => (e ? rej(e) : res(r))))
  await post("Profiler.enable")
  await post("Profiler.setSamplingInterval", { interval: 1000 })
  for (const win of process.env.PROBE_PROFILE.split(",")) {
    const [a, b] = win.split("-").map(Number)
    const start = async () => {
      await post("Profiler.start")
      log(`profile ${win} start`)
    }
    const stop = async () => {
      const { profile } = await post("Profiler.stop")
      writeFileSync(`${out}-${win}.cpuprofile`, JSON.stringify(profile))
      log(`profile ${win} written`)
    }
    if (a === 0) await start()
    else setTimeout(() => void start(), a).unref()
    setTimeout(() => void stop(), b).unref()
  }
}
