// `npm run bench`: runs every bench:* script of package.json one after another and writes bench/report.md
// (measure, value, target, pass/fail) from the JSON each script leaves in bench/.tmp/.
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus, totalmem } from "node:os"
import { join } from "node:path"
import { benchDir, type Measure, resultsDir, round } from "./lib.ts"

const root = join(benchDir, "..")
const scripts = Object.keys(
  JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts as Record<string, string>,
)
  .filter((s) => s.startsWith("bench:"))
  .sort()
const perScriptTimeoutMs = Number(process.env.BENCH_SCRIPT_TIMEOUT_MS ?? 15 * 60_000)

interface Row {
  readonly bench: string
  readonly m: Measure
}
const rows: Row[] = []
const failures: string[] = []

for (const script of scripts) {
  const name = script.slice("bench:".length)
  const resultFile = join(resultsDir, `${name}.json`)
  rmSync(resultFile, { force: true })
  console.log(`\n=== npm run ${script} ===`)
  const started = Date.now()
  const run = spawnSync("npm", ["run", "-s", script], { cwd: root, stdio: "inherit", timeout: perScriptTimeoutMs })
  const seconds = (Date.now() - started) / 1000
  if (run.status !== 0 || !existsSync(resultFile)) {
    failures.push(
      `${script}: ${run.error ? run.error.message : `exit ${run.status}`} after ${round(seconds)} s${existsSync(resultFile) ? "" : ", no result file"}`,
    )
    continue
  }
  const result = JSON.parse(readFileSync(resultFile, "utf8")) as { measures: Measure[] }
  for (const m of result.measures) rows.push({ bench: name, m })
}

const cell = (s: string) => s.replace(/\|/g, "\\|")
const lines = [
  "# Benchmark report",
  "",
  `One run of \`npm run bench\` on ${new Date().toISOString()}: ${cpus().length} cores (${cell(cpus()[0]?.model ?? "unknown cpu")}), ` +
    `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}, database: ${process.env.DATABASE_URL ? "Postgres from DATABASE_URL" : "each bench's default"}.`,
  "",
  "| bench | measure | value | target | result |",
  "|---|---|---|---|---|",
  ...rows.map(
    ({ bench, m }) =>
      `| ${bench} | ${cell(m.measure)} | ${round(m.value)} ${m.unit} | ${m.target ? cell(m.target) : "–"} | ${m.pass === undefined ? "info" : m.pass ? "pass" : "FAIL"} |`,
  ),
  "",
  ...(failures.length ? ["## Scripts that did not finish", "", ...failures.map((f) => `- ${f}`), ""] : []),
]
writeFileSync(join(benchDir, "report.md"), lines.join("\n"))
console.log(`\nwrote bench/report.md (${rows.length} measures, ${failures.length} failed scripts)`)
process.exit(failures.length > 0 || rows.some((r) => r.m.pass === false) ? 1 : 0)
