// One settings layer (issue 17 "Settings and time"): every part reads DATA_DIR through the contract's one Config
// (`DataDir`, contract/settings.ts), and no source file writes process.env: `npm start` hands the settings it derives
// (the devnet invite base) to the system through a ConfigProvider instead.
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"

const root = new URL("../../", import.meta.url).pathname
const sources = execFileSync("git", ["ls-files", "*.ts", "*.tsx", "*.mjs"], { cwd: root, encoding: "utf8" })
  .split("\n")
  .filter((f) => f !== "" && !f.startsWith("runtime/gateway/") && !f.startsWith("bench/"))
  .filter((f) => !/(^|\/)test\/|\.test\.ts$|testing|fake/.test(f))
const text = (f: string) => readFileSync(`${root}${f}`, "utf8")

describe("one settings layer", () => {
  it("no source file writes process.env", () => {
    const writes = sources.filter((f) =>
      /process\.env(\.[A-Za-z_]\w*|\[[^\]]+\])\s*=[^=]|delete process\.env|Object\.assign\(process\.env/.test(text(f)),
    )
    expect(writes).toEqual([])
  })

  it("DATA_DIR is read in one place: the contract's DataDir", () => {
    const readers = sources.filter(
      (f) =>
        f !== "contract/settings.ts" &&
        /Config\.String\("DATA_DIR"\)|stringOr\("DATA_DIR"|process\.env\.DATA_DIR/.test(text(f)),
    )
    expect(readers).toEqual([])
  })
})

describe("the composition root reads its settings through Config", () => {
  it("compose.ts reads no process.env, and main.ts reads it once (the ConfigProvider's source)", () => {
    const code = (f: string) =>
      text(f)
        .split("\n")
        .filter((l) => !/^\s*(\/\/|\*|\/\*)/.test(l))
        .join("\n")
    expect(code("server/src/compose.ts")).not.toMatch(/process\.env/)
    expect(code("server/src/main.ts").match(/process\.env/g) ?? []).toHaveLength(1)
  })

  it("what start describes and the compute it picks come from the ConfigProvider it is given, not process.env", async () => {
    const { Effect, ConfigProvider, Exit } = await import("effect")
    const { describeParts } = await import("../src/compose.ts")
    const under = (env: Record<string, string>) =>
      Effect.runPromiseExit(
        describeParts.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))),
      )
    const docker = await under({ COMPUTE: "docker", DOCKER_HOST: "tcp://10.0.0.9:2375", DATABASE_URL: "postgres://db" })
    expect(Exit.isSuccess(docker) && docker.value.compute).toBe("docker")
    const lines = Exit.isSuccess(docker) ? docker.value.lines : []
    expect(lines).toContain("database: Postgres from DATABASE_URL")
    expect(lines.some((l) => l.startsWith("compute: Docker containers") && l.includes("tcp://10.0.0.9:2375"))).toBe(
      true,
    )
    const wrong = await under({ COMPUTE: "kubernetes" })
    expect(Exit.isFailure(wrong) && JSON.stringify(wrong.cause)).toContain(
      "COMPUTE must be one of local, railway, docker",
    )
  })
})
