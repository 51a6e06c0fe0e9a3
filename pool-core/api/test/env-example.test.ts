import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { describe, expect, it } from "vitest"

// .env.example must list every environment variable the code reads. This scans the repository's source (apps,
// library, runtime, tests, benchmarks, scripts) for the ways it reads one — process.env.X, process.env["X"],
// effect Config.*("X"), the provider helpers optionalSecret/optionalString/stringOr("X"), and the runtime's
// `env.X` — and fails naming each variable that has no `# X=` line. Variables read only by tests, benchmarks and
// tooling must be in the "tests and benchmarks" section.

const root = join(import.meta.dirname, "..", "..", "..")
const SKIP_DIRS = new Set(["node_modules", ".data", ".git", "dist", "screenshots", ".tmp"])
const SOURCE = /\.(ts|tsx|mts|mjs|js|cjs)$/
/** Set by the operating system or the shell, not by us. */
const OS_VARIABLES = new Set(["PATH", "USER", "HOME", "TMPDIR", "SHELL", "LANG", "TERM", "CI"])

const READS: ReadonlyArray<RegExp> = [
  /process\.env\.([A-Z][A-Z0-9_]+)/g,
  /process\.env\[["'`]([A-Z][A-Z0-9_]+)["'`]\]/g,
  /\bConfig\.\w+\(\s*["'`]([A-Z][A-Z0-9_]+)["'`]/g,
  /\b(?:optional\w*|stringOr|\w+FromEnv)\(\s*["'`]([A-Z][A-Z0-9_]+)["'`]/g,
  /(?<![.\w$])env\??\.([A-Z][A-Z0-9_]+)/g,
]

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    if (SKIP_DIRS.has(name) || (name.startsWith(".") && name !== ".ci")) return []
    const path = join(dir, name)
    const st = statSync(path)
    if (st.isDirectory()) return sourceFiles(path)
    return SOURCE.test(name) && st.size < 2_000_000 ? [path] : []
  })

/** Variable → the files that read it (repository-relative). */
const variablesRead = () => {
  const found = new Map<string, Set<string>>()
  for (const file of sourceFiles(root)) {
    const text = readFileSync(file, "utf8")
    for (const pattern of READS)
      for (const m of text.matchAll(pattern)) {
        const name = m[1]!
        if (OS_VARIABLES.has(name)) continue
        if (!found.has(name)) found.set(name, new Set())
        found.get(name)!.add(relative(root, file))
      }
  }
  return found
}

const isTooling = (file: string) => /(^|\/)(test|tests|bench|scripts)\//.test(file) || /\.test\.tsx?$/.test(file)

const example = readFileSync(join(root, ".env.example"), "utf8")
const documented = (text: string, name: string) => new RegExp(`^#?\\s*${name}=`, "m").test(text)

describe(".env.example", () => {
  const read = variablesRead()

  it("the scan finds the variables it must (a broken pattern would pass vacuously)", () => {
    for (const name of [
      "DATABASE_URL",
      "POOL_API_KEY",
      "PORT",
      "HOST",
      "XMTP_ENV",
      "RAILWAY_API_TOKEN",
      "OPENROUTER_KEY_LIMIT",
      "AGENT_NAME",
      "BENCH_CLAIMS",
    ]) {
      expect([...read.keys()], name).toContain(name)
    }
  })

  it("documents every variable the code reads with a `# NAME=` line", () => {
    const missing = [...read]
      .filter(([name]) => !documented(example, name))
      .map(([name, files]) => `${name} (read in ${[...files].slice(0, 3).join(", ")})`)
    expect(missing, `add these to .env.example with a line saying what they do:\n${missing.join("\n")}`).toEqual([])
  })

  it("lists variables read only by tests, benchmarks and tooling in the tests and benchmarks section", () => {
    const start = example.search(/^# --- tests and benchmarks/m)
    expect(start).toBeGreaterThan(0)
    const section = example.slice(start)
    const toolingOnly = [...read].filter(([, files]) => [...files].every(isTooling)).map(([name]) => name)
    expect(toolingOnly.length).toBeGreaterThan(5)
    expect(toolingOnly.filter((name) => !documented(section, name))).toEqual([])
  })

  it("explains both PORTs: the web/API server's (8080) and an agent instance's (18789)", () => {
    expect(example).toMatch(/^# PORT=8080$/m)
    expect(example).toMatch(/^# PORT=18789$/m)
  })
})
