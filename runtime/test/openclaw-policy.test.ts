// OpenClaw's own verdict on the config `runtime apply` generates: `openclaw exec-policy show` must report exec denied
// (security=deny) and `openclaw security audit` must find nothing to warn about, for the loopback bind (local
// compute) and the lan bind (a Railway container with a public domain). Runs the real CLI from runtime/gateway with
// the pinned Node 24 (each command ~10 s: OpenClaw bootstraps fully).
import { execFile } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"
import { applyRuntime } from "../src/config/apply.ts"
import { openclawEntry, settingsFromEnv } from "../src/config/settings.ts"

const run = promisify(execFile)
const node = join(import.meta.dirname, "..", "..", "node_modules", ".bin", "node")
const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** Applies the runtime into a fresh state dir and runs one openclaw command against that config. */
const openclaw = async (bind: "loopback" | "lan", args: ReadonlyArray<string>) => {
  const stateDir = mkdtempSync(join(tmpdir(), "runtime-policy-"))
  dirs.push(stateDir)
  const token = "t".repeat(48)
  const env = {
    OPENCLAW_STATE_DIR: stateDir,
    PORT: "18101",
    INSTANCE_TOKEN: token,
    GATEWAY_BIND: bind,
    OPENROUTER_API_KEY: "sk-or-test",
  }
  const settings = settingsFromEnv(env)
  applyRuntime(settings, env)
  const { stdout } = await run(node, [openclawEntry(), ...args], {
    cwd: stateDir,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: join(stateDir, "home"),
      OPENCLAW_STATE_DIR: stateDir,
      OPENCLAW_CONFIG_PATH: settings.configPath,
      OPENCLAW_GATEWAY_TOKEN: token,
      OPENCLAW_NO_AUTO_UPDATE: "1",
      OPENCLAW_DISABLE_BONJOUR: "1",
      NO_COLOR: "1",
    },
    maxBuffer: 16 * 1024 * 1024,
  })
  // The CLI may print migration notes before the JSON document.
  return JSON.parse(stdout.slice(stdout.indexOf("{"))) as Record<string, any>
}

describe.each(["loopback", "lan"] as const)("the generated openclaw.json (bind %s), as OpenClaw judges it", (bind) => {
  it("exec-policy show: tools.exec is denied (requested and effective security=deny)", async () => {
    const shown = await openclaw(bind, ["exec-policy", "show", "--json"])
    const scope = shown.effectivePolicy.scopes.find((s: { scopeLabel: string }) => s.scopeLabel === "tools.exec")
    expect(scope).toBeDefined()
    expect(scope.security).toMatchObject({ requested: "deny", effective: "deny" })
    expect(scope.askFallback.effective).toBe("deny")
  }, 90_000)

  it("security audit: no critical finding and no warning; elevated tools are off", async () => {
    const audit = await openclaw(bind, ["security", "audit", "--json"])
    const findings = audit.findings as Array<{ checkId: string; severity: string; detail: string }>
    expect(findings.filter((f) => f.severity !== "info")).toEqual([])
    expect(audit.summary).toMatchObject({ critical: 0, warn: 0 })
    const surface = findings.find((f) => f.checkId === "summary.attack_surface")
    expect(surface?.detail).toContain("tools.elevated: disabled")
  }, 90_000)
})
