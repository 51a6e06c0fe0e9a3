// MALLOC_ARENA_MAX, side by side (docs/runtime-footprint.md): two agents started at the same time through the local
// compute layer, the way the pool starts them, one with the runtime's MALLOC_ARENA_MAX=2 and one with glibc's own limit
// (8 per core: 16 on 2 cores, passed as the instance's env), so the machine's load hits both alike. Once both are
// ready, the RSS of each process tree (gateway + OpenClaw's helpers) is read at 30, 120 and 300 s idle.
//   node_modules/.bin/node --import tsx bench/footprint/arenas.ts
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, ManagedRuntime } from "effect"
import { Compute } from "../../pool-core/providers/compute/Compute.ts"
import { localComputeLayer } from "../../pool-core/providers/compute/local/index.ts"
import { groupMembers } from "../../pool-core/providers/compute/local/processes.ts"
import { startTestDevnet } from "../../runtime/test/support/devnet.ts"

/** When to read the RSS, in seconds after both are ready. */
const SAMPLES_S = [30, 120, 300]
const READY_TIMEOUT_MS = 1_200_000
const log = (line: string) => process.stderr.write(`${line}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The process group and every descendant of its members (OpenClaw's spawn broker has its own group). */
const tree = (pgid: number) => {
  const parent = new Map<number, number>()
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8")
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]))
    } catch {}
  }
  const out = new Set(groupMembers(pgid))
  for (let grew = true; grew; ) {
    grew = false
    for (const [pid, ppid] of parent)
      if (!out.has(pid) && out.has(ppid)) {
        out.add(pid)
        grew = true
      }
  }
  return [...out]
}
const rssMb = (pgid: number) => {
  const parts: string[] = []
  let kb = 0
  for (const pid of tree(pgid)) {
    try {
      const n = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0)
      kb += n
      parts.push(`${pid}:${Math.round(n / 1024)}`)
    } catch {}
  }
  return { mb: Math.round(kb / 1024), parts: parts.join(" ") }
}

const main = async () => {
  const devnet = await startTestDevnet()
  const dataDir = mkdtempSync(join(tmpdir(), "bench-arenas-"))
  const compute = ManagedRuntime.make(localComputeLayer({ dataDir, baseEnv: { DEVNET_URL: devnet.url } }))
  const variants = [
    { id: "arena-2", env: {} as Record<string, string>, label: "MALLOC_ARENA_MAX=2 (the runtime's)" },
    {
      id: "arena-glibc",
      env: { MALLOC_ARENA_MAX: String(8 * cpus().length) },
      label: `glibc's own (${8 * cpus().length})`,
    },
  ]
  try {
    log(
      `load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}; starting both`,
    )
    const started = await Promise.all(
      variants.map(async (v) => {
        const t0 = Date.now()
        const h = await compute.runPromise(
          Effect.flatMap(Compute, (c) => c.create({ instanceId: v.id, instanceToken: `tok-${v.id}`, env: v.env })),
        )
        for (;;) {
          const ok = await fetch(`${h.url}/pool/health`)
            .then(async (r) => r.ok && ((await r.json()) as { ready: boolean }).ready)
            .catch(() => false)
          if (ok) break
          if (Date.now() - t0 > READY_TIMEOUT_MS) throw new Error(`${v.id} not ready`)
          await sleep(1_000)
        }
        const pid = Number(JSON.parse(readFileSync(join(dataDir, "instances", v.id, "instance.json"), "utf8")).pid)
        const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")
        log(
          `${v.id}: ready after ${((Date.now() - t0) / 1000).toFixed(0)} s; gateway ${environ.find((e) => e.startsWith("MALLOC_ARENA_MAX="))}`,
        )
        return { ...v, pid }
      }),
    )
    const readyAt = Date.now()
    for (const s of SAMPLES_S) {
      await sleep(Math.max(0, readyAt + s * 1000 - Date.now()))
      const load = loadavg()[0]!.toFixed(1)
      for (const v of started) {
        const r = rssMb(v.pid)
        console.log(`${s} s idle, load ${load}: ${v.label}: ${r.mb} MB (${r.parts})`)
      }
    }
  } finally {
    await compute.dispose()
    await devnet.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    log(String(e))
    process.exit(1)
  },
)
