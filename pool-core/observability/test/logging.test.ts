import { execFile } from "node:child_process"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

// LOG_FORMAT and LOG_LEVEL in a real process (the pinned Node 24 with tsx, as `npm start` runs): what reaches stdout.

const root = join(import.meta.dirname, "..", "..", "..")
const node = join(root, "node_modules", ".bin", "node")
const fixture = join(import.meta.dirname, "fixtures", "log-lines.ts")

const run = (env: Record<string, string>) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => k !== "LOG_FORMAT" && k !== "LOG_LEVEL"),
    ) as Record<string, string>
    execFile(node, ["--import", "tsx", fixture], { cwd: root, env: { ...clean, ...env } }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
  })

// Each case starts Node processes that compile TypeScript: minutes on a loaded 2-core machine, hence the timeout.
describe("logging", { timeout: 300_000 }, () => {
  it("LOG_FORMAT=json: one JSON object a line with level, message and the annotations; LOG_LEVEL=debug shows debug", async () => {
    const { code, stdout } = await run({ LOG_FORMAT: "json", LOG_LEVEL: "debug" })
    expect(code).toBe(0)
    const lines = stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines.map((l) => [l.level, l.message])).toEqual([
      ["DEBUG", "debug line"],
      ["INFO", "claim answered"],
      ["WARN", "warning line"],
    ])
    expect(lines[1]!.annotations).toEqual({
      instanceId: "i-123",
      owner: "api:ops-test",
      command: "new",
      provider: "openrouter",
    })
  })

  it("LOG_LEVEL=warning leaves out debug and info; pretty is the default and shows the annotations", async () => {
    const quiet = await run({ LOG_FORMAT: "json", LOG_LEVEL: "warning" })
    expect(
      quiet.stdout
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { message: string }).message),
    ).toEqual(["warning line"])
    const pretty = await run({})
    expect(pretty.code).toBe(0)
    expect(pretty.stdout).not.toContain("debug line")
    expect(pretty.stdout).toContain("claim answered")
    expect(pretty.stdout).toContain("i-123")
    expect(() => JSON.parse(pretty.stdout.split("\n")[0]!)).toThrow()
  })

  it("a bad LOG_FORMAT or LOG_LEVEL stops the process with a message naming the variable and what is allowed", async () => {
    const format = await run({ LOG_FORMAT: "xml" })
    expect(format.code).toBe(2)
    expect(format.stderr).toContain('LOG_FORMAT must be "pretty" or "json"; got "xml"')
    const level = await run({ LOG_LEVEL: "loud" })
    expect(level.code).toBe(2)
    expect(level.stderr).toContain(
      'LOG_LEVEL must be one of all, trace, debug, info, warn, warning, error, fatal, none; got "loud"',
    )
  })
})
