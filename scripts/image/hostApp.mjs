// The runtime image's /app made from what `npm ci` already installed on this machine, instead of installing it again
// inside the image (the npm installs were ~15 of the ~18 min of a build on a 2-core machine). Only where this machine
// is what the image runs: linux-x64 with glibc. The tree is the one runtime/Dockerfile's `app` stage makes:
//   node_modules/…                  the runtime workspace's production dependencies (their closure in package-lock.json,
//                                   as `npm ci --omit=dev --workspace=@convos-agents/runtime` installs them), without
//                                   the repository's own packages (compiled into the bundles) and without .bin
//   runtime/gateway/node_modules/…  the OpenClaw gateway as scripts/install-gateway.mjs installed it (production only)
//   runtime/dist/, runtime/gateway/extensions/convos/{dist/,package.json,openclaw.plugin.json}, the package.jsons
// with only the linux-x64 glibc XMTP binding. Files are hard links where the filesystem allows (no copy of ~700 MB).
import { createHash } from "node:crypto"
import {
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
} from "node:fs"
import { dirname, join } from "node:path"

const BINDING = /^bindings_node\..+\.node$/
const KEPT_BINDING = "bindings_node.linux-x64-gnu.node"

/** Why this machine's install cannot be the image's, or null when it can. */
export const hostAppUnusable = (root) => {
  const glibc = process.report?.getReport().header.glibcVersionRuntime
  if (process.platform !== "linux" || process.arch !== "x64" || !glibc)
    return `this machine is ${process.platform}-${process.arch}${glibc ? "" : " without glibc"}, the image linux-x64 glibc`
  for (const path of ["node_modules/@xmtp/node-bindings/dist", "runtime/gateway/node_modules/openclaw/package.json"])
    if (!existsSync(join(root, path))) return `${path} is missing (run npm install first)`
  return null
}

const up = (key) => {
  const i = key.lastIndexOf("/node_modules/")
  return i < 0 ? "" : key.slice(0, i)
}

/**
 * The lockfile keys (node_modules/… paths) of a workspace's production dependencies, transitively, resolved the way
 * Node resolves them (nearest node_modules first). Workspace links are followed (their own production dependencies
 * count) but not listed. Optional dependencies absent here (another platform's) are left out.
 */
export const productionClosure = (lockPackages, workspace, installedHere = () => true) => {
  const resolve = (from, name) => {
    for (let dir = from; ; dir = up(dir)) {
      const key = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`
      if (lockPackages[key]) return key
      if (dir === "") return null
    }
  }
  const seen = new Set()
  const out = []
  const visit = (start) => {
    const key = lockPackages[start]?.link ? lockPackages[start].resolved : start
    if (seen.has(key)) return
    seen.add(key)
    const entry = lockPackages[key]
    if (!entry) throw new Error(`package-lock.json has no entry ${key}`)
    if (key.includes("node_modules/")) out.push(key)
    const optionalPeers = entry.peerDependenciesMeta ?? {}
    const wanted = [
      ...Object.keys(entry.dependencies ?? {}).map((name) => [name, false]),
      ...Object.keys(entry.optionalDependencies ?? {}).map((name) => [name, true]),
      ...Object.keys(entry.peerDependencies ?? {}).map((name) => [name, optionalPeers[name]?.optional === true]),
    ]
    for (const [name, optional] of wanted) {
      const found = resolve(key, name)
      if (found && installedHere(found)) visit(found)
      else if (!optional) throw new Error(`${key} needs ${name}, which package-lock.json does not resolve`)
    }
  }
  visit(workspace)
  return out.sort()
}

/** Every file, link and folder under `src` as [relative path, lstat], depth first; `skip(rel)` prunes. */
const walk = (src, skip, rel = "") => {
  const entries = []
  for (const name of readdirSync(join(src, rel)).sort()) {
    const path = rel ? `${rel}/${name}` : name
    if (skip(path)) continue
    const st = lstatSync(join(src, path))
    entries.push([path, st])
    if (st.isDirectory()) entries.push(...walk(src, skip, path))
  }
  return entries
}

/** Another platform's XMTP binding: the image runs linux-x64 glibc only. */
const foreignBinding = (path) => {
  const name = path.slice(path.lastIndexOf("/") + 1)
  return BINDING.test(name) && name !== KEPT_BINDING
}

/**
 * The plan of /app: [source file, path under /app, lstat] for every entry, and its fingerprint: every path with its
 * mode and (files) size, and the content of everything outside node_modules (the compiled bundles, the manifests) and of both
 * lockfiles. An unchanged install and unchanged bundles give the same fingerprint on any clone.
 */
export const planHostApp = (root) => {
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")).packages
  const packages = productionClosure(lock, "runtime", (key) => existsSync(join(root, key)))
  const plan = []
  const addTree = (from, to, skip = () => false) => {
    for (const [rel, st] of walk(join(root, from), (rel) => skip(rel) || foreignBinding(rel)))
      plan.push([join(root, from, rel), `${to}/${rel}`, st])
  }
  const addFile = (path) => plan.push([join(root, path), path, lstatSync(join(root, path))])
  for (const key of packages) {
    // Nested node_modules hold other packages of the closure (listed on their own) or ones it does not need.
    addTree(key, key, (rel) => rel === "node_modules" || rel.startsWith("node_modules/"))
  }
  addTree("runtime/gateway/node_modules", "runtime/gateway/node_modules")
  for (const file of ["runtime/package.json", "runtime/gateway/package.json"]) addFile(file)
  const plugin = "runtime/gateway/extensions/convos"
  for (const file of ["package.json", "openclaw.plugin.json"]) addFile(`${plugin}/${file}`)
  addTree(`${plugin}/dist`, `${plugin}/dist`)
  addTree("runtime/dist", "runtime/dist")
  const hash = createHash("sha256")
  for (const lockfile of ["package-lock.json", "runtime/gateway/package-lock.json"])
    hash.update(`${lockfile}\0`).update(readFileSync(join(root, lockfile)))
  for (const [src, dest, st] of plan) {
    hash.update(`${dest}\0${st.mode}\0${st.isDirectory() ? "" : st.size}\0`)
    if (st.isSymbolicLink()) hash.update(readlinkSync(src))
    else if (st.isFile() && !dest.includes("node_modules/")) hash.update(readFileSync(src))
  }
  return { plan, packages, fingerprint: hash.digest("hex") }
}

/** Lays the plan out as `<dir>/app/…` (the build context `app` of runtime/Dockerfile). */
export const stageHostApp = (plan, dir) => {
  let linked = true
  for (const [src, dest, st] of plan) {
    const target = join(dir, "app", dest)
    if (st.isDirectory()) mkdirSync(target, { recursive: true })
    else {
      mkdirSync(dirname(target), { recursive: true })
      if (st.isSymbolicLink()) symlinkSync(readlinkSync(src), target)
      else if (linked) {
        try {
          linkSync(src, target)
        } catch {
          linked = false
          copyFileSync(src, target)
        }
      } else copyFileSync(src, target)
    }
  }
}
