import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

// `npm start` and `npm run chat` load `.env` from the folder they run in when it exists; a variable already set in
// the environment wins over the file. Each script's own command line (package.json) runs in a scratch folder that
// links the repo's parts, so a developer's own .env is never touched.

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
const scripts = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).scripts as Record<string, string>

const runScript = (script: "start" | "chat", dotenv: string | null, env: Record<string, string> = {}) => {
  const dir = mkdtempSync(join(tmpdir(), "convos-dotenv-"))
  for (const part of ["server", "messaging", "node_modules"]) symlinkSync(join(repo, part), join(dir, part))
  if (dotenv !== null) writeFileSync(join(dir, ".env"), dotenv)
  const base = {
    ...process.env,
    PATH: `${join(repo, "node_modules", ".bin")}:${process.env.PATH}`,
    DATA_DIR: join(dir, "data"),
    ...env,
  } as Record<string, string>
  for (const variable of ["PORT", "XMTP_ENV", "DATABASE_URL", "DEVNET_URL"])
    if (!(variable in env)) delete base[variable]
  const child = spawn("sh", ["-c", `exec ${scripts[script]} ${script === "chat" ? "--name Tester" : ""}`], {
    cwd: dir,
    env: base,
    stdio: ["ignore", "pipe", "pipe"],
  })
  let output = ""
  const take = (d: Buffer) => {
    output += d
    // Started although the .env should have stopped it: stop it at once (the test then fails on its output).
    if (output.includes("[start] ready")) child.kill("SIGINT")
  }
  child.stdout.on("data", take)
  child.stderr.on("data", take)
  return new Promise<{ code: number | null; output: string }>((resolve) =>
    child.on("exit", (code) => {
      rmSync(dir, { recursive: true, force: true })
      resolve({ code, output })
    }),
  )
}

describe(".env for npm start and npm run chat", () => {
  it("npm start reads PORT from .env (a bad one stops it naming PORT), and the environment wins over the file", {
    timeout: 240_000,
  }, async () => {
    const fromFile = await runScript("start", "# comment\nPORT=70000\n")
    expect(fromFile.code).not.toBe(0)
    expect(fromFile.output).toContain('PORT must be a TCP port number from 0 to 65535 (0 = any free port); got "70000"')
    const overridden = await runScript("start", "PORT=70000\n", { PORT: "80x" })
    expect(overridden.output).toContain('got "80x"')
  })

  it("npm run chat reads XMTP_ENV from .env (a bad one is refused naming XMTP_ENV)", { timeout: 240_000 }, async () => {
    const r = await runScript("chat", "XMTP_ENV=nonsense\n")
    expect(r.code).toBe(1)
    expect(r.output).toContain('XMTP_ENV must be "dev" or "production"')
  })

  it("without a .env both start as before (the file is optional)", { timeout: 240_000 }, async () => {
    const r = await runScript("start", null, { PORT: "70001" })
    expect(r.output).toContain('got "70001"')
    expect(r.output).not.toMatch(/env file|\.env: not found/i)
  })
})
