// CI check: every test that needs something a developer's machine may lack, and CI always has, ran and passed there.
// Such a test carries a marker in its name and reports itself skipped, with the reason, where the thing is missing:
//   "[needs Postgres]" (pool-core/db/testing.ts): the double-claim, tick-lock, replica and database-fault proofs;
//   "[needs a container engine]" (runtime/test/docker-e2e.test.ts): the runtime image built and run for real.
// Without this, a CI run whose DATABASE_URL did not reach the tests, or whose podman did not install, would skip them
// and still be green.
// Usage: node scripts/check-required-tests.mjs <vitest JSON report>
import { readFileSync } from "node:fs"

const REQUIRED = [
  { marker: "[needs Postgres]", fix: "skipped means the run had no Postgres; set DATABASE_URL" },
  {
    marker: "[needs a container engine]",
    fix: "skipped means no engine answered; apt-get install -y podman runc debootstrap (.ci/run does)",
  },
]
const file = process.argv[2]
if (!file) {
  console.error(
    "usage: node scripts/check-required-tests.mjs <vitest JSON report> (vitest run --reporter=json --outputFile.json=<file>)",
  )
  process.exit(2)
}
const report = JSON.parse(readFileSync(file, "utf8"))
const tests = (report.testResults ?? []).flatMap((f) =>
  (f.assertionResults ?? []).map((t) => ({
    file: f.name,
    name: [...(t.ancestorTitles ?? []), t.title].join(" > "),
    status: t.status,
  })),
)
let failed = false
for (const { marker, fix } of REQUIRED) {
  const marked = tests.filter((t) => t.name.includes(marker))
  const notPassed = marked.filter((t) => t.status !== "passed")
  if (marked.length === 0) {
    console.error(
      `No test named "${marker}" in ${file}: they did not run at all. Check that the report covers the whole suite.`,
    )
    failed = true
  } else if (notPassed.length > 0) {
    console.error(`${notPassed.length} of ${marked.length} "${marker}" tests did not pass (${fix}):`)
    for (const t of notPassed) console.error(`  ${t.status}: ${t.name} (${t.file})`)
    failed = true
  } else console.log(`${marked.length} "${marker}" tests ran and passed.`)
}
process.exit(failed ? 1 : 0)
