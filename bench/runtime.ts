// npm run bench:runtime — in one run on this machine: this project's agent (started by the local compute layer, the
// way the pool starts it) against a default OpenClaw gateway (plain config: gateway mode local, token auth, the convos
// channel plugin and nothing else configured). Both run against the same devnet; one after the other (agent, default,
// agent, default, …) so a change in the machine's load hits both alike. Each start is measured from spawn to ready
// (agent: GET /pool/health says ready; default gateway: GET /ready is 200, i.e. its convos channel is live), then it
// idles IDLE_MS and the RSS of its whole process group is summed from /proc. Prints four lines on stdout;
// progress and the load average go to stderr, and bench/.tmp/runtime.json keeps the figures for `npm run bench`.
// Then, where a container engine exists, the agent in its container (bench/runtimeContainer.ts: Docker compute, the
// runtime image): cold start and RSS from the container's stats, as more stdout lines, each labelled
// "agent in a container: …" (where none exists, one stdout line says the container phase was skipped and why).
import { spawn } from "node:child_process"
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, ManagedRuntime } from "effect"
import { Compute } from "../pool-core/providers/compute/Compute.ts"
import { localComputeLayer } from "../pool-core/providers/compute/local/index.ts"
import { freePort, groupMembers, terminate } from "../pool-core/providers/compute/local/processes.ts"
import { convosPluginDir, openclawEntry, runtimeRoot } from "../runtime/src/config/settings.ts"
import { startTestDevnet } from "../runtime/test/support/devnet.ts"
import { resultsDir } from "./lib.ts"
import { measureContainerAgent } from "./runtimeContainer.ts"

const TOKEN = "bench-token"
const RUNS = 3
// A liveness bound only: on this shared 2-core machine a gateway start has taken minutes under load.
const READY_TIMEOUT_MS = 900_000
const IDLE_MS = Number(process.env.BENCH_RUNTIME_IDLE_MS ?? 20_000)

const log = (line: string) => process.stderr.write(`${line}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")

/** Pids of the process group `pgid` and every descendant of its members (OpenClaw's spawn broker has its own group). */
const processTree = (pgid: number): ReadonlyArray<number> => {
  const parent = new Map<number, number>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]))
    } catch {}
  }
  const tree = new Set(groupMembers(pgid))
  for (let grew = true; grew; ) {
    grew = false
    for (const [pid, ppid] of parent)
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid)
        grew = true
      }
  }
  return [...tree]
}

/** RSS (MB) summed over the process tree of `pgid` (the agent or gateway and every worker process it started). */
const treeRss = (pgid: number): { rssMb: number; processes: ReadonlyArray<string> } => {
  let kb = 0
  const processes: string[] = []
  for (const pid of processTree(pgid)) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8")
      const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
      kb += rss
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8")
        .split("\0")
        .find((a) => /\.(m?js|ts)$/.test(a))
        ?.split("/")
        .pop()
      processes.push(`${/Name:\s+(\S+)/.exec(status)?.[1] ?? pid}${cmd ? `(${cmd})` : ""}=${Math.round(rss / 1024)}MB`)
    } catch {}
  }
  return { rssMb: kb / 1024, processes }
}

/** Polls `probe` every 250 ms until it is true; seconds since `t0`. */
/** Stops a wait at once (any other error from a probe just means "not yet"). */
class GaveUp extends Error {}

const until = async (what: string, t0: number, probe: () => Promise<boolean>): Promise<number> => {
  for (;;) {
    const ready = await probe().catch((e: unknown) => {
      if (e instanceof GaveUp) throw e
      return false
    })
    if (ready) return (performance.now() - t0) / 1000
    if (performance.now() - t0 > READY_TIMEOUT_MS)
      throw new Error(`${what} not ready within ${READY_TIMEOUT_MS / 1000} s`)
    await sleep(250)
  }
}

interface Sample {
  readonly startS: number
  readonly rssMb: number
  readonly processes: ReadonlyArray<string>
}

/** One agent through the local compute layer: create → ready → idle → RSS → destroy. */
const agentSample = async (
  compute: ManagedRuntime.ManagedRuntime<Compute, unknown>,
  dataDir: string,
  id: string,
): Promise<Sample> => {
  const withCompute = <A, E>(f: (c: Compute["Service"]) => Effect.Effect<A, E>) =>
    compute.runPromise(Effect.flatMap(Compute, f))
  const t0 = performance.now()
  const handle = await withCompute((c) => c.create({ instanceId: id, instanceToken: TOKEN, env: {} }))
  try {
    const startS = await until(`agent ${id}`, t0, async () => {
      const r = await fetch(`${handle.url}/pool/health`)
      return r.headers.get("content-type")?.includes("json") === true && ((await r.json()) as { ready: boolean }).ready
    })
    await sleep(IDLE_MS)
    const pid = (JSON.parse(readFileSync(join(dataDir, "instances", id, "instance.json"), "utf8")) as { pid: number })
      .pid
    return { startS, ...treeRss(pid) }
  } finally {
    await withCompute((c) => c.destroy(id))
  }
}

/** A default OpenClaw gateway with the convos channel plugin only: spawn → GET /ready 200 → idle → RSS → stop. */
const defaultSample = async (devnetUrl: string, root: string, i: number): Promise<Sample> => {
  const stateDir = join(root, `default-${i}`)
  mkdirSync(join(stateDir, "home"), { recursive: true })
  const port = await freePort()
  const configPath = join(stateDir, "openclaw.json")
  const config = {
    gateway: { mode: "local", auth: { mode: "token", token: "${OPENCLAW_GATEWAY_TOKEN}" } },
    channels: { convos: { enabled: true } },
    plugins: { load: { paths: [convosPluginDir()] }, entries: { convos: { enabled: true } } },
  }
  writeFileSync(configPath, JSON.stringify(config, null, 2))
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: join(stateDir, "home"),
    OPENCLAW_STATE_DIR: stateDir,
    OPENCLAW_CONFIG_PATH: configPath,
    OPENCLAW_GATEWAY_TOKEN: TOKEN,
    INSTANCE_TOKEN: TOKEN,
    DEVNET_URL: devnetUrl,
    CONVOS_RUNTIME_ROOT: runtimeRoot(),
    XMTP_DB_DIR: join(stateDir, "xmtp"),
  }
  // A gateway that exits before it is ready (on a loaded machine OpenClaw gives up when a worker thread misses its 5 s
  // start deadline) is started again, as a supervisor would, like the agent's local compute layer does; the start
  // time counts from the first spawn.
  const t0 = performance.now()
  let pid = 0
  let exited = true
  let restarts = 0
  const spawnGateway = () => {
    const log = openSync(join(stateDir, "gateway.log"), "a")
    const child = spawn(
      process.execPath,
      [openclawEntry(), "gateway", "run", "--port", String(port), "--bind", "loopback"],
      { cwd: stateDir, detached: true, stdio: ["ignore", log, log], env },
    )
    closeSync(log)
    pid = child.pid!
    exited = false
    child.once("exit", () => (exited = true))
  }
  try {
    const startS = await until(`default gateway ${i}`, t0, async () => {
      if (exited) {
        if (pid !== 0 && ++restarts > 5)
          throw new GaveUp(`default gateway ${i} failed to start 6 times; see ${join(stateDir, "gateway.log")}`)
        spawnGateway()
        return false
      }
      return (await fetch(`http://127.0.0.1:${port}/ready`)).status === 200
    })
    if (restarts > 0) log(`  (default gateway ${i} was started ${restarts + 1} times before it was ready)`)
    await sleep(IDLE_MS)
    return { startS, ...treeRss(pid) }
  } finally {
    if (pid !== 0) await terminate(pid, 10_000)
  }
}

const main = async () => {
  const devnet = await startTestDevnet()
  const root = mkdtempSync(join(tmpdir(), "bench-runtime-"))
  const compute = ManagedRuntime.make(
    localComputeLayer({ dataDir: join(root, "pool"), baseEnv: { DEVNET_URL: devnet.url } }),
  )
  const cleanup = async () => {
    await compute.dispose()
    await devnet.close()
    rmSync(root, { recursive: true, force: true })
  }
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => void cleanup().finally(() => process.exit(130)))
  const agents: Sample[] = []
  const defaults: Sample[] = []
  const loads: string[] = [load()]
  let container: Awaited<ReturnType<typeof measureContainerAgent>> = { measures: [], notes: [] }
  try {
    for (let i = 1; i <= RUNS; i++) {
      log(`run ${i}/${RUNS}: load average ${load()}`)
      const a = await agentSample(compute, join(root, "pool"), `bench-agent-${i}`)
      log(
        `  agent: ready after ${a.startS.toFixed(1)} s; idle RSS ${a.rssMb.toFixed(0)} MB (${a.processes.join(", ")})`,
      )
      agents.push(a)
      const d = await defaultSample(devnet.url, root, i)
      log(
        `  default gateway: ready after ${d.startS.toFixed(1)} s; idle RSS ${d.rssMb.toFixed(0)} MB (${d.processes.join(", ")})`,
      )
      defaults.push(d)
      loads.push(load())
    }
    // The agent in its container, alone: the local runs are over.
    log(`container: load average ${load()}`)
    container = await measureContainerAgent({
      devnetUrl: devnet.url,
      token: TOKEN,
      idleMs: IDLE_MS,
      readyTimeoutMs: READY_TIMEOUT_MS,
      log,
    })
    for (const n of container.notes) log(n)
  } finally {
    await cleanup()
  }
  const agentRss = median(agents.map((s) => s.rssMb))
  const agentStart = median(agents.map((s) => s.startS))
  const defaultRss = median(defaults.map((s) => s.rssMb))
  const defaultStart = median(defaults.map((s) => s.startS))
  const ratio = defaultRss / agentRss
  console.log(`agent idle RSS (process group, median of 3): ${Math.round(agentRss)} MB`)
  console.log(`agent cold start to ready (median of 3): ${agentStart.toFixed(1)} s`)
  console.log(`default gateway idle RSS (median of 3): ${Math.round(defaultRss)} MB`)
  console.log(`ratio RSS default/agent: ${ratio.toFixed(2)}`)
  for (const m of container.measures)
    console.log(`${m.measure}: ${m.unit === "MB" ? Math.round(m.value) : m.value.toFixed(1)} ${m.unit}`)
  if (container.measures.length === 0) console.log(container.notes.join("; "))
  log(
    `default gateway cold start to ready (median of 3): ${defaultStart.toFixed(1)} s; load average (1/5/15 min) at each run: ${loads.join(" | ")}; ${IDLE_MS / 1000} s idle before each RSS reading; targets ≤ 400 MB and ≤ 10 s per agent`,
  )
  mkdirSync(resultsDir, { recursive: true })
  writeFileSync(
    join(resultsDir, "runtime.json"),
    JSON.stringify(
      {
        name: "runtime",
        measures: [
          {
            measure: "agent idle RSS (process group, median of 3)",
            value: agentRss,
            unit: "MB",
            target: "≤ 400 MB",
            pass: agentRss <= 400,
          },
          {
            measure: "agent cold start to ready (median of 3)",
            value: agentStart,
            unit: "s",
            target: "≤ 10 s",
            pass: agentStart <= 10,
          },
          { measure: "default gateway idle RSS (median of 3)", value: defaultRss, unit: "MB" },
          { measure: "default gateway cold start to ready (median of 3)", value: defaultStart, unit: "s" },
          { measure: "ratio RSS default/agent", value: ratio, unit: "×" },
          ...container.measures,
        ],
        notes: [
          `load average (1/5/15 min) at each run: ${loads.join(" | ")}`,
          `agent samples: ${agents.map((s) => `${s.startS.toFixed(1)} s/${s.rssMb.toFixed(0)} MB`).join(", ")}`,
          `default samples: ${defaults.map((s) => `${s.startS.toFixed(1)} s/${s.rssMb.toFixed(0)} MB`).join(", ")}`,
          ...container.notes,
        ],
        at: new Date().toISOString(),
      },
      null,
      2,
    ),
  )
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  },
)
