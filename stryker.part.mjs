// One part of `npm run mutation` (a subset of its modules), for measuring on a loaded machine: MUTATE_PART names it.
import base from "./stryker.config.mjs"
const parts = {
  "auth-invite-ownership": (m) => !m.startsWith("pool-core/pool/claim.ts") && !m.startsWith("pool-core/pool/tick.ts"),
  claim: (m) => m.startsWith("pool-core/pool/claim.ts"),
  tick: (m) => m.startsWith("pool-core/pool/tick.ts"),
}
const part = process.env.MUTATE_PART
export default {
  ...base,
  mutate: base.mutate.filter(parts[part]),
  reporters: ["clear-text", "progress-append-only", "json", "event-recorder"],
  jsonReporter: { fileName: `reports/mutation/${part}.json` },
  eventReporter: { baseDir: `reports/mutation/${part}-events` },
  tempDirName: `.stryker-tmp-${part}`,
}
