import { defineConfig } from "vitest/config"

// The test files `npm run mutation` (StrykerJS, stryker.config.mjs) runs against mutants of the claim, tick, auth,
// invite verification and ownership code: the files that exercise those modules, nothing else (the machine is shared).
// claim-timeout.test.ts is left out: its sleeps and measured baselines cost ~10 s per mutant run.
export const mutationTestFiles = [
  "pool-core/pool/test/pool.test.ts",
  "pool-core/pool/test/tick.test.ts",
  "pool-core/api/test/auth.test.ts",
  "pool-core/api/test/auth-matrix.test.ts",
  "messaging/convos/test/invite.test.ts",
  "messaging/convos/test/golden.test.ts",
]

export default defineConfig({
  test: {
    include: mutationTestFiles,
    exclude: ["**/node_modules/**", ".data/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ["default"],
  },
})
