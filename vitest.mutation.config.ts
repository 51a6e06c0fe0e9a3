import { BaseSequencer, type TestSpecification } from "vitest/node"
import { defineConfig } from "vitest/config"

// The test files `npm run mutation` (StrykerJS, stryker.config.mjs) runs against mutants of the claim, tick, auth,
// invite verification and ownership code: the files that exercise those modules, nothing else (the machine is shared).
// claim-timeout.test.ts is left out: its sleeps and measured baselines cost ~10 s per mutant run.
const sharedWorker = [
  "pool-core/pool/test/pool.test.ts",
  "pool-core/pool/test/ownership.test.ts",
  // Waiting claims, replays that never finish, a provision failing after the row was settled; quotas.
  "pool-core/pool/test/claim.test.ts",
  // Waiting claims first, joining a conversation, a pool shut down, a setup cut at the provision timeout.
  "pool-core/pool/test/claim-paths.test.ts",
  "pool-core/pool/test/quota.test.ts",
  "pool-core/pool/test/tick.test.ts",
  // The tick's phases one by one: each report, event and row (a starting death, new addresses, orphan claims), and
  // what it asks the provider (its failures, a refused key, the call budget, the top-up).
  "pool-core/pool/test/tick-phases.test.ts",
  "pool-core/pool/test/tick-provider.test.ts",
  // The tick under a provider that refuses the key or keeps failing (circuit, destroy retries), and claims left
  // behind by a replica that is gone.
  "pool-core/pool/test/crash-loop.test.ts",
  "pool-core/pool/test/replicas.test.ts",
  "pool-core/api/test/auth-matrix.test.ts",
  "messaging/convos/test/invite.test.ts",
  "messaging/convos/test/golden.test.ts",
]
/** Files that mock a module (vi.mock) need a fresh module graph of their own. */
const ownWorker = ["pool-core/api/test/auth.test.ts"]
export const mutationTestFiles = [...sharedWorker, ...ownWorker]

/**
 * Stryker stops a mutant's run at its first failing test (bail), so the order of the files decides how much of a
 * killed mutant's run is spent: files that failed last time first (the previous mutant, usually the neighbouring code,
 * was killed there), then the quickest first. Vitest's own order runs the longest first.
 */
class KillFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cache = this.ctx.cache
    const rank = (spec: TestSpecification) => {
      const r = cache.getTestSpecificationResult(spec)
      return { failed: r?.failed ? 0 : 1, duration: r?.duration ?? 0 }
    }
    return [...files].sort((a, b) => {
      if (a.project.name !== b.project.name) return a.project.name < b.project.name ? -1 : 1
      const ra = rank(a)
      const rb = rank(b)
      return ra.failed - rb.failed || ra.duration - rb.duration
    })
  }
}

const hasPostgres = !!(process.env.TEST_DATABASE_URL || process.env.DATABASE_URL)

export default defineConfig({
  test: {
    exclude: ["**/node_modules/**", ".data/**"],
    // A mutant that makes a test wait for something that never comes fails it here (killed) in half a minute, twice
    // the slowest test of the set with coverage at load 25, instead of Stryker's timeout restarting the test process.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // With a server, the tests that run on both databases run on Postgres only (the stronger copy; see testBackends).
    env: hasPostgres ? { TEST_BACKENDS: "postgres" } : {},
    reporters: ["default"],
    sequence: { sequencer: KillFirstSequencer },
    projects: [
      // Stryker runs each mutant's covering tests in one worker, hundreds of times: reusing the worker keeps Effect,
      // the SQL driver and the rest of node_modules loaded between runs instead of importing them again (~3 s a run).
      { extends: true, test: { name: "shared", include: sharedWorker, isolate: false } },
      { extends: true, test: { name: "own", include: ownWorker, isolate: true } },
    ],
  },
})
