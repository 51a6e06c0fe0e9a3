// Mutation score of the code behind the key guarantees (issue 22): `npm run mutation`. Not part of CI (it takes
// ~20–30 minutes on a shared 2-core machine); the latest score and the surviving mutants are in docs/qa.md.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts", related: false },
  mutate: [
    "pool-core/pool/claim.ts",
    "pool-core/pool/tick.ts",
    "pool-core/api/auth.ts",
    // Invite verification: decodeInvite, checkInviteExpiry, parseInvite, verifyOwnInvite.
    "messaging/convos/invite.ts:263-309",
    // Ownership: owned, release, claimedOwned, updateAgent, rename, instruct, join.
    "pool-core/pool/PoolLive.ts:44-47",
    "pool-core/pool/PoolLive.ts:152-190",
  ],
  // Only pool-core, messaging and contract are needed in the sandbox (runtime/ alone carries ~650 MB of OpenClaw).
  ignorePatterns: ["runtime", "web", "manager-bot", "server", "bench", "docs", ".data", "reports", "**/.tmp"],
  coverageAnalysis: "perTest",
  // Module-level constants would need the whole suite per mutant; the functions are what the guarantees rest on.
  ignoreStatic: true,
  // Error and log texts are product wording, not the guarantees measured here (they would be most of the mutants).
  mutator: { excludedMutations: ["StringLiteral"] },
  // Shared machine: two test processes at a time, at most.
  concurrency: 2,
  // A mutant that makes a claim wait forever (replay loops, sleeps) is "timed out" (counted as detected) soon.
  timeoutMS: 10_000,
  timeoutFactor: 1.25,
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  tempDirName: ".stryker-tmp",
  // Stryker would rewrite tsconfig.json in the sandbox with the TypeScript JS API, which TypeScript 7 (native) no
  // longer has; vitest does not need it (it strips types itself), so point Stryker at no tsconfig.
  tsconfigFile: "no-tsconfig-for-stryker.json",
  cleanTempDir: true,
}
