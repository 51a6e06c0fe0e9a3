// CI check: every test that needs a real Postgres server (its name carries "[needs Postgres]", see
// pool-core/db/testing.ts) ran and passed. Without this, a run whose DATABASE_URL did not reach the tests would skip
// the double-claim, tick-lock, replica and database-fault proofs and still be green.
// Usage: node scripts/check-postgres-tests.mjs <vitest JSON report>
import { readFileSync } from "node:fs"

const MARKER = "[needs Postgres]"
const file = process.argv[2]
if (!file) {
  console.error(
    "usage: node scripts/check-postgres-tests.mjs <vitest JSON report> (vitest run --reporter=json --outputFile.json=<file>)",
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
const postgresOnly = tests.filter((t) => t.name.includes(MARKER))
const notPassed = postgresOnly.filter((t) => t.status !== "passed")
if (postgresOnly.length === 0) {
  console.error(
    `No test named "${MARKER}" in ${file}: the Postgres-only tests did not run at all. Check that the report covers the whole suite.`,
  )
  process.exit(1)
}
if (notPassed.length > 0) {
  console.error(
    `${notPassed.length} of ${postgresOnly.length} Postgres-only tests did not pass (skipped means the run had no Postgres; set DATABASE_URL):`,
  )
  for (const t of notPassed) console.error(`  ${t.status}: ${t.name} (${t.file})`)
  process.exit(1)
}
console.log(`${postgresOnly.length} Postgres-only tests ran and passed.`)
