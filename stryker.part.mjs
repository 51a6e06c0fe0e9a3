// One part of `npm run mutation` (one of its modules), for measuring on a loaded machine: MUTATE_PART names it
// (claim, tick, auth, invite, ownership).
import base from "./stryker.config.mjs"
const parts = {
  auth: (m) => m.startsWith("pool-core/api/auth.ts"),
  invite: (m) => m.startsWith("messaging/convos/invite.ts"),
  ownership: (m) => m.startsWith("pool-core/pool/PoolLive.ts"),
  claim: (m) => m.startsWith("pool-core/pool/claim.ts"),
  tick: (m) => /^pool-core\/pool\/tick(Observe|Act|State)?\.ts/.test(m),
}
const part = process.env.MUTATE_PART
if (!parts[part]) throw new Error(`stryker.part.mjs: MUTATE_PART must be one of ${Object.keys(parts).join(", ")}`)
export default {
  ...base,
  mutate: base.mutate.filter(parts[part]),
  reporters: ["clear-text", "progress-append-only", "json", "event-recorder"],
  jsonReporter: { fileName: `reports/mutation/${part}.json` },
  eventReporter: { baseDir: `reports/mutation/${part}-events` },
  tempDirName: `.stryker-tmp-${part}`,
}
