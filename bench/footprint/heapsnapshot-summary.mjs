// Summarise a .heapsnapshot: self size by node type and by constructor/name (top N), and code by script.
import { readFileSync } from "node:fs"
const snap = JSON.parse(readFileSync(process.argv[2], "utf8"))
const m = snap.snapshot.meta,
  nf = m.node_fields,
  types = m.node_types[0]
const F = nf.length,
  iType = nf.indexOf("type"),
  iName = nf.indexOf("name"),
  iSize = nf.indexOf("self_size")
const nodes = snap.nodes,
  strings = snap.strings
const byType = new Map(),
  byName = new Map()
let total = 0
for (let i = 0; i < nodes.length; i += F) {
  const t = types[nodes[i + iType]],
    size = nodes[i + iSize]
  total += size
  byType.set(t, (byType.get(t) ?? 0) + size)
  let name = strings[nodes[i + iName]]
  if (t === "string" || t === "concatenated string" || t === "sliced string") name = "(strings)"
  else if (t === "code") name = `(code) ${name.slice(0, 40)}`
  else if (t === "closure") name = "(closures)"
  else if (t === "array") name = `(array) ${name.slice(0, 30)}`
  else name = `${t}:${name.slice(0, 60)}`
  byName.set(name, (byName.get(name) ?? 0) + size)
}
const mb = (b) => (b / 1048576).toFixed(1).padStart(7)
const top = (mp, k) =>
  [...mp]
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([n, b]) => `${mb(b)} MB  ${n}`)
    .join("\n")
console.log(
  `total self size ${mb(total)} MB in ${nodes.length / F} nodes\n-- by type --\n${top(byType, 12)}\n-- by name --\n${top(byName, Number(process.argv[3] ?? 30))}`,
)
