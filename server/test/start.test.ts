import { spawn } from "node:child_process"
import { createServer } from "node:net"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

// `npm start`'s entry as a real process on the embedded defaults: it prints its progress and the bot's invite,
// serves the API and web, and stops cleanly on Ctrl-C (SIGINT).

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

const startProcess = (dataDir: string, extra: Record<string, string> = {}) => {
  const env = { ...process.env, DATA_DIR: dataDir, PORT: "0", POOL_MIN_IDLE: "0" } as Record<string, string>
  delete env.DATABASE_URL // the embedded default
  delete env.XMTP_ENV
  Object.assign(env, extra)
  const child = spawn(process.execPath, ["--import", "tsx", main], { env, stdio: ["ignore", "pipe", "pipe"] })
  const output = { text: "" }
  child.stdout.on("data", (d) => (output.text += d))
  child.stderr.on("data", (d) => (output.text += d))
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)))
  return { child, output, exited }
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

// How long a start may take before the test gives up: the first start in a fresh clone compiles every module (tsx,
// no cache yet), and CI runs it beside OpenClaw gateways on 2 cores (measured 16 s idle, over 90 s under load).
const START_WAIT_MS = 240_000

describe("npm start", () => {
  it("on the devnet, the invites it prints open its own browser chat view", {
    timeout: START_WAIT_MS + 60_000,
  }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "convos-start-"))
    const port = await freePort()
    const { child, output, exited } = startProcess(dataDir, { PORT: String(port) })
    try {
      const until = Date.now() + START_WAIT_MS
      while (!output.text.includes("[start] ready") && Date.now() < until && child.exitCode === null)
        await new Promise((r) => setTimeout(r, 200))
      expect(output.text).toContain("[start] ready")
      const invite = readFileSync(join(dataDir, "manager-invite.url"), "utf8").trim()
      expect(invite.startsWith(`http://127.0.0.1:${port}/v2?i=`), invite).toBe(true)
      expect(output.text).toMatch(
        new RegExp(`ops chat invite \\(admins only\\): http://127\\.0\\.0\\.1:${port}/v2\\?i=`),
      )
      const page = await fetch(invite, { redirect: "manual" })
      expect(page.status).toBe(302)
      expect(page.headers.get("location")).toBe(`/chat?invite=${encodeURIComponent(invite)}`)
      child.kill("SIGINT")
      expect(await exited).toBe(0)
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL")
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  // A setting to fix is one line naming the variable, and exit code 78 (EX_CONFIG: a supervisor does not restart it).
  const configErrors: ReadonlyArray<readonly [string, Record<string, string>, string]> = [
    [
      "a bad PORT",
      { PORT: "eighty" },
      'PORT must be a TCP port number from 0 to 65535 (0 = any free port); got "eighty"',
    ],
    [
      "a bad XMTP_ENV (the agents' boot env)",
      { XMTP_ENV: "staging" },
      'XMTP_ENV must be "dev" or "production" (or unset for the devnet), got "staging"',
    ],
    [
      "a COMPUTE that does not exist",
      { COMPUTE: "kubernetes" },
      'COMPUTE must be one of local, railway, docker (got "kubernetes")',
    ],
  ]
  for (const [what, env, line] of configErrors) {
    it(`${what} stops it at once: one line naming the variable, exit code 78`, { timeout: 60_000 }, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), "convos-start-"))
      const { child, output, exited } = startProcess(dataDir, env)
      try {
        expect(await exited).toBe(78)
        expect(output.text).toContain(`[start] configuration error: ${line}`)
        expect(output.text.split("\n").filter((l) => l.includes(Object.keys(env)[0]!))).toHaveLength(1)
        expect(output.text).not.toContain("database:")
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL")
        rmSync(dataDir, { recursive: true, force: true })
      }
    })
  }

  it("a bad value found while the system is built (OPENROUTER_TOPUP_MAX) is the same one line and exit code 78, after stopping what started", {
    timeout: START_WAIT_MS + 60_000,
  }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "convos-start-"))
    const { child, output, exited } = startProcess(dataDir, { OPENROUTER_TOPUP_MAX: "lots" })
    try {
      expect(await exited).toBe(78)
      expect(output.text).toContain(
        '[start] configuration error: OPENROUTER_TOPUP_MAX must be a positive number of USD (default 100); got "lots". See .env.example.',
      )
      expect(output.text.split("\n").filter((l) => l.includes("OPENROUTER_TOPUP_MAX"))).toHaveLength(1)
      expect(output.text).toContain("[start] stopped")
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL")
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it("Ctrl-C still shuts down cleanly when its output pipe is already gone (npm start | tee, tee killed first)", {
    timeout: START_WAIT_MS + 60_000,
  }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "convos-start-"))
    const { child, output, exited } = startProcess(dataDir)
    try {
      const until = Date.now() + START_WAIT_MS
      while (!output.text.includes("[start] ready") && Date.now() < until && child.exitCode === null)
        await new Promise((r) => setTimeout(r, 200))
      expect(output.text).toContain("[start] ready")
      child.stdout.destroy()
      child.stderr.destroy()
      child.kill("SIGINT")
      expect(await exited).toBe(0)
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL")
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it("brings everything up, then stops cleanly on SIGINT", { timeout: START_WAIT_MS + 60_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "convos-start-"))
    const env = { ...process.env, DATA_DIR: dataDir, PORT: "0", POOL_MIN_IDLE: "0" } as Record<string, string>
    delete env.DATABASE_URL // the embedded default
    delete env.XMTP_ENV
    const child = spawn(process.execPath, ["--import", "tsx", main], { env, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.stderr.on("data", (d) => (out += d))
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)))
    try {
      const until = Date.now() + START_WAIT_MS
      while (!out.includes("[start] ready") && Date.now() < until && child.exitCode === null)
        await new Promise((r) => setTimeout(r, 200))
      expect(out).toContain("[start] ready")
      for (const part of ["database: embedded PGlite", "messaging: devnet", "compute: local", "Manager bot invite"])
        expect(out).toContain(part)
      const url = /web catalog and pool API: (http:\/\/\S+)/.exec(out)![1]!
      expect((await (await fetch(`${url}/healthz`)).json()).ok).toBe(true)
      expect((await (await fetch(`${url}/api/pool/templates`)).json()).templates.length).toBeGreaterThanOrEqual(12)
      expect((await fetch(url)).status).toBe(200)
      const invite = readFileSync(join(dataDir, "manager-invite.url"), "utf8").trim()
      expect(out).toContain(invite)
      // The local operator of the devnet, kept in DATA_DIR for `npm run chat -- --ops`.
      const operator = JSON.parse(readFileSync(join(dataDir, "operator.json"), "utf8")) as { inboxId: string }
      expect(out).toContain(
        `ops chat as the local operator (devnet only; kept in DATA_DIR/operator.json): npm run chat -- --ops (inbox ${operator.inboxId.slice(0, 8)}…)`,
      )
      child.kill("SIGINT")
      expect(await exited).toBe(0)
      expect(out).toContain("[start] stopped")
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL")
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
