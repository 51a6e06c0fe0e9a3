// Summarise a .cpuprofile: total sampled time, self time by package/module group, and the top functions.
import { readFileSync } from "node:fs"
const p = JSON.parse(readFileSync(process.argv[2], "utf8"))
const byId = new Map(p.nodes.map((n) => [n.id, n]))
const dt = new Map()
for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))
const group = (url, fn) => {
  if (!url)
    return fn === "(garbage collector)"
      ? "(gc)"
      : fn === "(idle)"
        ? "(idle)"
        : fn === "(program)"
          ? "(program: compile/native)"
          : `(native ${fn})`
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url)
  if (m)
    return m[1] === "openclaw"
      ? `openclaw/${m[2]
          .split("/")
          .slice(0, 2)
          .join("/")
          .replace(/-[A-Za-z0-9_]{8}\.m?js$/, "")}`
      : m[1]
  if (url.startsWith("node:")) return "node: builtins"
  return url.replace(/^file:\/\//, "").replace(/.*\/(extensions|runtime|plugin-captures)\//, "$1/")
}
const groups = new Map(),
  fns = new Map()
let total = 0
for (const [id, us] of dt) {
  const n = byId.get(id)
  total += us
  const g = group(n.callFrame.url, n.callFrame.functionName)
  groups.set(g, (groups.get(g) ?? 0) + us)
  const f = `${n.callFrame.functionName || "(anon)"} ${group(n.callFrame.url, n.callFrame.functionName)}:${n.callFrame.lineNumber}`
  fns.set(f, (fns.get(f) ?? 0) + us)
}
const top = (m, k) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(
      ([name, us]) => `${(us / 1e6).toFixed(2).padStart(7)} s ${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`,
    )
    .join("\n")
console.log(
  `sampled ${(total / 1e6).toFixed(2)} s\n-- by group --\n${top(groups, Number(process.argv[3] ?? 25))}\n-- by function --\n${top(fns, 15)}`,
)
