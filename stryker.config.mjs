// Mutation score of the code behind the key guarantees (issue 22): `npm run mutation`. Not part of CI; the latest
// score, time and surviving mutants are in docs/qa.md.
import { readFileSync } from "node:fs"

/**
 * The lines of `file` from the declaration of `first` to the end of the declaration of `last` (the line before the
 * next blank-line-separated top-level statement after it), as Stryker's "file:from-to": found by name, so that edits
 * above them never make the mutation run measure the wrong code.
 */
const range = (file, first, last = first) => {
  const lines = readFileSync(new URL(file, import.meta.url), "utf8").split("\n")
  const at = (name) => {
    const i = lines.findIndex((l) => new RegExp(`^\\s*(export )?const ${name} = `).test(l))
    if (i < 0) throw new Error(`stryker.config.mjs: no "const ${name} =" in ${file}; update the mutation ranges`)
    return i
  }
  const from = at(first)
  const start = at(last)
  const indent = /^\s*/.exec(lines[start])[0].length
  let end = start + 1
  // The declaration ends before the next line at its indentation or less (a blank line, a comment or a statement).
  while (
    end < lines.length &&
    (lines[end].trim() === "" ? false : /^\s*/.exec(lines[end])[0].length > indent || /^\s*[)\]}]/.test(lines[end]))
  )
    end++
  return `${file}:${from + 1}-${end}`
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts", related: false },
  mutate: [
    "pool-core/pool/claim.ts",
    // The tick: its composition and its phases.
    "pool-core/pool/tick.ts",
    "pool-core/pool/tickObserve.ts",
    "pool-core/pool/tickAct.ts",
    "pool-core/pool/tickState.ts",
    "pool-core/api/auth.ts",
    range("messaging/convos/invite.ts", "decodeInvite", "verifyOwnInvite"),
    // Ownership: the owner-scoped operations of the Pool (owned, release, claimedOwned, updateAgent, rename, instruct,
    // join). setModel and reportModelProblem, declared between them since, are left out: the model switch is the
    // model tests' (not in the mutation set) and a model problem report is not owner-scoped.
    range("pool-core/pool/PoolLive.ts", "owned"),
    range("pool-core/pool/PoolLive.ts", "release", "instruct"),
    range("pool-core/pool/PoolLive.ts", "join"),
  ],
  // Only pool-core, messaging and contract are needed in the sandbox (runtime/ alone carries ~650 MB of OpenClaw).
  // .stryker-tmp*: the sandboxes of parts running at the same time (stryker.part.mjs) must not be copied in.
  ignorePatterns: [
    "runtime",
    "web",
    "manager-bot",
    "server",
    "bench",
    "docs",
    ".data",
    "reports",
    "**/.tmp",
    ".stryker-tmp*",
  ],
  // Each mutant runs only the tests that reached it in the dry run.
  coverageAnalysis: "perTest",
  // Module-level constants would need the whole suite per mutant; the functions are what the guarantees rest on.
  ignoreStatic: true,
  // Spans, log annotations and metric labels (stryker.ignorers.mjs): not behaviour.
  appendPlugins: ["./stryker.ignorers.mjs"],
  ignorers: ["observability"],
  // Error and log texts are product wording, not the guarantees measured here (they would be most of the mutants).
  mutator: { excludedMutations: ["StringLiteral"] },
  // Three test processes on 2 cores: much of a mutant's run waits (on Postgres, on the tests' own sleeps), so a third
  // process keeps the cores busy (`npm run mutation -- --concurrency 2` on a machine needed for other work). The dry
  // run (every test once, with coverage) takes 1–2 minutes on an idle machine, several more under load.
  concurrency: 3,
  dryRunTimeoutMinutes: 30,
  // A mutant that makes a claim wait forever (replay loops, sleeps) is "timed out" (counted as detected) soon.
  timeoutMS: 10_000,
  timeoutFactor: 1.25,
  // event-recorder: every mutant's result is written as it is known (reports/mutation/events), so a run stopped
  // early still shows its survivors.
  reporters: ["clear-text", "progress-append-only", "html", "json", "event-recorder"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  eventReporter: { baseDir: "reports/mutation/events" },
  tempDirName: ".stryker-tmp",
  // Stryker would rewrite tsconfig.json in the sandbox with the TypeScript JS API, which TypeScript 7 (native) no
  // longer has; vitest does not need it (it strips types itself), so point Stryker at no tsconfig.
  tsconfigFile: "no-tsconfig-for-stryker.json",
  cleanTempDir: true,
}
