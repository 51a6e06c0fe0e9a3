// `npm run image:runtime` / `npm run image:manager`: builds the agent runtime image (runtime/Dockerfile) or the
// manager image (Dockerfile) with docker or podman, whichever answers (CONTAINER_ENGINE=docker|podman to choose), and
// prints the image's size and the build time. `node scripts/image.mjs os` only makes the offline OS base (it needs no
// `npm ci`; .ci/run starts it first, in the background).
// The base image: BASE_IMAGE (e.g. node:24-bookworm-slim) where a registry is reachable. Without it the base is made
// offline and kept (scripts/image/base.mjs): a Debian bookworm minbase from debootstrap (the apt mirror this machine
// uses, or DEBIAN_MIRROR), its rootfs kept outside the repository, with this repository's pinned Node 24 and npm.
// The runtime's /app: on linux-x64 glibc, what `npm ci` installed here (scripts/image/hostApp.mjs), else installed
// inside the build (IMAGE_DEPS=host|registry to choose). Then the image is tagged by its fingerprint
// (<name>:src-<hash>): an unchanged runtime is never built again, only tagged.
// Env: IMAGE_TAG (default convos-agent-runtime:latest / convos-manager:latest), BASE_IMAGE, CONTAINER_ENGINE,
// DEBIAN_MIRROR, IMAGE_DEPS.
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { nodeBase, prepareOs } from "./image/base.mjs"
import { answers, cacheDir, die, findEngine, holdImageLock, imageExists, output, run } from "./image/engine.mjs"
import { hostAppUnusable, planHostApp, stageHostApp } from "./image/hostApp.mjs"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const targets = {
  runtime: { dockerfile: "runtime/Dockerfile", tag: "convos-agent-runtime:latest" },
  manager: { dockerfile: "Dockerfile", tag: "convos-manager:latest" },
  os: null,
}
const name = process.argv[2]
if (!(name in targets)) die(`usage: node scripts/image.mjs <${Object.keys(targets).join("|")}>`)
holdImageLock()
const engine = findEngine()
if (name === "os") {
  prepareOs(engine)
  process.exit(0)
}
const target = targets[name]

/**
 * The CA bundle npm trusts on this machine (NODE_EXTRA_CA_CERTS, else npm's cafile), for the build's npm behind a
 * TLS-inspecting proxy: passed as the build secret `ca` (a mounted file, never a layer); an empty file when none.
 */
const caBundle = () => {
  const npmCafile = output("npm", ["config", "get", "cafile"])
  const file = [process.env.NODE_EXTRA_CA_CERTS, npmCafile].find(
    (f) => f && f !== "null" && f !== "undefined" && existsSync(f),
  )
  if (file) return file
  const empty = join(mkdtempSync(join(tmpdir(), "convos-ca-")), "none.pem")
  writeFileSync(empty, "")
  return empty
}

/** How the runtime's /app is made: "host" (this machine's install) or "registry" (npm ci inside the build). */
const appSource = () => {
  if (name !== "runtime") return "registry"
  const wanted = process.env.IMAGE_DEPS
  if (wanted && wanted !== "host" && wanted !== "registry") die(`IMAGE_DEPS=${wanted}: use host or registry.`)
  const unusable = wanted === "registry" ? "IMAGE_DEPS=registry" : hostAppUnusable(root)
  if (wanted === "host" && unusable) die(`IMAGE_DEPS=host, but ${unusable}.`)
  if (unusable) console.log(`image: installing /app inside the build (${unusable})`)
  return unusable ? "registry" : "host"
}

/** Keeps the 3 newest fingerprint tags of `repo`; older ones are removed (an image still in use stays). */
const pruneFingerprints = (repo) => {
  const tags = (output(engine, ["images", "--format", "{{.Repository}}:{{.Tag}}", repo]) ?? "")
    .split("\n")
    .filter((t) => /:src-[0-9a-f]+$/.test(t))
  for (const old of tags.slice(3)) answers(engine, ["rmi", old])
}

const started = Date.now()
const tag = process.env.IMAGE_TAG || target.tag
const repo = tag.replace(/:[^:/]+$/, "")
const dockerfile = join(root, target.dockerfile)
const source = appSource()
if (source === "host") {
  // esbuild again only when a source changed since the last build (the compiled bundles go into the image).
  run(process.execPath, [join(root, "scripts", "build-runtime.mjs"), "--if-stale"])
}
const base = process.env.BASE_IMAGE || nodeBase(engine, root)
const baseId = output(engine, ["image", "inspect", base, "--format", "{{.Id}}"]) ?? base
const host = source === "host" ? planHostApp(root) : null
const fingerprint = createHash("sha256")
  .update(`${name}\0${source}\0${baseId}\0`)
  .update(readFileSync(dockerfile))
  .update(host?.fingerprint ?? "")
  .digest("hex")
  .slice(0, 16)
// Without the host's tree the fingerprint cannot see the sources: the engine's layer cache decides instead.
const fingerprintTag = host ? `${repo}:src-${fingerprint}` : null

const report = (what) => {
  const bytes = Number(output(engine, ["image", "inspect", tag, "--format", "{{.Size}}"]))
  console.log(
    `image: ${tag} ${what} with ${engine} in ${Math.round((Date.now() - started) / 1000)} s; size ${(bytes / 1024 ** 2).toFixed(0)} MB (${bytes} bytes)`,
  )
}

if (fingerprintTag && imageExists(engine, fingerprintTag)) {
  run(engine, ["tag", fingerprintTag, tag])
  report(`unchanged (${fingerprintTag}): not rebuilt, tagged`)
  process.exit(0)
}

const work = mkdtempSync(join(cacheDir(), `build-${name}-`))
let failed = null
try {
  // podman: Docker image format (OCI drops HEALTHCHECK), the Dockerfile's ignore file, the host network for npm, and
  // low limits for the RUN steps: podman's defaults exceed what a capped machine allows (here runc refuses them, and
  // even nproc=50000 under a hard limit of 96367: "error setting rlimit"); these suffice for npm ci.
  const ulimits = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
  const engineArgs =
    engine === "podman"
      ? ["--format", "docker", "--network", "host", "--ignorefile", `${dockerfile}.dockerignore`, ...ulimits]
      : []
  const args = ["build", "-f", dockerfile, "-t", tag, "--build-arg", `BASE_IMAGE=${base}`, ...engineArgs]
  let context = root
  if (host) {
    const t0 = Date.now()
    stageHostApp(host.plan, join(work, "app-context"))
    console.log(
      `image: /app from this machine's install: ${host.packages.length} runtime packages + the OpenClaw gateway, ${host.plan.length} entries, staged in ${Math.round((Date.now() - t0) / 1000)} s`,
    )
    // The stage `app` comes from here; nothing else is read from a context, so the main one is an empty folder.
    context = join(work, "empty")
    mkdirSync(context)
    args.push("--build-context", `app=${join(work, "app-context")}`, "-t", fingerprintTag)
  } else {
    args.push("--secret", `id=ca,src=${caBundle()}`)
  }
  console.log(`image: building ${tag} from ${target.dockerfile} on ${base} (/app: ${source}) with ${engine} …`)
  const env = engine === "docker" ? { ...process.env, DOCKER_BUILDKIT: "1" } : process.env
  const build = spawnSync(engine, [...args, context], { stdio: "inherit", env })
  if (build.status !== 0) failed = `${engine} build failed (exit ${build.status ?? build.signal}); see its output above`
} finally {
  // Also after a failed build (die() exits at once, past any finally).
  rmSync(work, { recursive: true, force: true })
}
if (failed) die(failed)
if (fingerprintTag) pruneFingerprints(repo)
report("built")
