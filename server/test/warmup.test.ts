import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

// `npm start`'s warm-up progress as a real process with one real agent (local compute, an OpenClaw gateway on the
// embedded devnet): "agents: 0/1 ready, ~N s" while it warms (past the estimate, one line saying so), one "pool ready" line when the pool reaches
// POOL_MIN_IDLE, then no more progress lines.

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe("npm start warm-up progress", () => {
  // An OpenClaw gateway starts in ~20 s on an idle machine and minutes on a loaded one.
  it("shows agents warming, prints one line at the target, then goes quiet", { timeout: 1_500_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "convos-warmup-"))
    const env = {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: "0",
      POOL_MIN_IDLE: "1",
      POOL_MAX_TOTAL: "1", // one real agent (~1.3 GB)
      POOL_TICK_INTERVAL: "2 seconds",
    } as Record<string, string>
    for (const name of ["DATABASE_URL", "XMTP_ENV", "RAILWAY_API_TOKEN", "DEVNET_URL", "DEVNET_PORT", "POOL_API_KEY"])
      delete env[name]
    const child = spawn(process.execPath, ["--import", "tsx", main], { env, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.stderr.on("data", (d) => (out += d))
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)))
    const waitFor = async (text: string, ms: number) => {
      const until = Date.now() + ms
      while (!out.includes(text) && Date.now() < until && child.exitCode === null) await sleep(250)
      expect(out, out.slice(-3000)).toContain(text)
    }
    const startLines = () => out.split("\n").filter((l) => l.startsWith("[start] "))
    try {
      await waitFor("[start] ready", 300_000)
      // The first progress line comes with the first look at the pool, right after "ready".
      await waitFor("[start] agents: ", 60_000)
      await waitFor("[start] pool ready", 1_200_000)
      const lines = startLines()
      console.info(lines.join("\n"))
      const readyAt = lines.findIndex((l) => l.startsWith("[start] ready."))
      const targetAt = lines.findIndex((l) => l.startsWith("[start] pool ready"))
      const progress = lines.filter((l) => l.startsWith("[start] agents:"))
      expect(progress.length, lines.join("\n")).toBeGreaterThanOrEqual(1)
      for (const line of progress)
        expect(line).toMatch(/^\[start\] agents: 0\/1 ready, (~\d+ s|taking longer than the estimated \d+ s)$/)
      // Past the estimate it says so once, not every 10 s (a loaded machine takes minutes: warmup-lines.test.ts).
      expect(progress.filter((l) => l.includes("taking longer")).length).toBeLessThanOrEqual(1)
      // Progress comes after "ready" and before the target line, which says how long it took.
      expect(lines.indexOf(progress[0]!)).toBeGreaterThan(readyAt)
      expect(lines.indexOf(progress.at(-1)!)).toBeLessThan(targetAt)
      expect(lines[targetAt]).toMatch(/^\[start\] pool ready: 1\/1 agents idle after \d+ s$/)
      const url = /web catalog and pool API: (http:\/\/\S+)/.exec(out)![1]!
      expect(((await (await fetch(`${url}/api/pool/counts`)).json()) as { idle: number }).idle).toBe(1)
      // Then quiet: nothing more from [start] for longer than the progress interval (10 s).
      const before = startLines().length
      await sleep(25_000)
      expect(startLines().slice(before)).toEqual([])
      expect(startLines().filter((l) => l.startsWith("[start] pool ready"))).toHaveLength(1)
      child.kill("SIGINT")
      expect(await exited).toBe(0)
    } finally {
      // Ctrl-C stops the agent too (SIGKILL would leave its process group running); SIGKILL only as a last resort.
      if (child.exitCode === null) {
        child.kill("SIGINT")
        const stopped = await Promise.race([exited, sleep(90_000).then(() => "late" as const)])
        if (stopped === "late") child.kill("SIGKILL")
      }
      await exited
      // A failed assertion above is the news, not a state dir an agent was still writing to.
      try {
        rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 500 })
      } catch {}
    }
  })
})
