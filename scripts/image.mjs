// `npm run image:runtime` / `npm run image:manager`: builds the agent runtime image (runtime/Dockerfile) or the
// manager image (Dockerfile) with docker or podman, whichever answers (CONTAINER_ENGINE=docker|podman
// to choose), and prints the image's size and the build time.
// The base image: BASE_IMAGE (e.g. node:24-bookworm-slim) where a registry is reachable. Without it the base is made
// offline, once, and cached as a local image: a Debian bookworm minbase from debootstrap (the apt mirror this machine
// uses, or DEBIAN_MIRROR) with this repository's pinned Node 24 and the running npm copied in.
// Env: IMAGE_TAG (default convos-agent-runtime:latest / convos-manager:latest), BASE_IMAGE, CONTAINER_ENGINE,
// DEBIAN_MIRROR.
import { execFileSync, spawnSync } from "node:child_process"
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const targets = {
  runtime: { dockerfile: "runtime/Dockerfile", tag: "convos-agent-runtime:latest" },
  manager: { dockerfile: "Dockerfile", tag: "convos-manager:latest" },
}

const die = (message) => {
  console.error(`image: ${message}`)
  process.exit(1)
}
const target = targets[process.argv[2]]
if (!target) die(`usage: node scripts/image.mjs <${Object.keys(targets).join("|")}>`)

const answers = (cmd, args) => spawnSync(cmd, args, { stdio: "ignore" }).status === 0
const run = (cmd, args, options = {}) => {
  const result = spawnSync(cmd, args, { stdio: "inherit", ...options })
  if (result.status !== 0)
    die(`${cmd} ${args.join(" ")} failed (exit ${result.status ?? result.signal ?? result.error?.message})`)
}

/** docker or podman: the first whose engine answers (a docker CLI without a daemon does not count). */
const engine = (() => {
  const wanted = process.env.CONTAINER_ENGINE
  const candidates = wanted ? [wanted] : ["docker", "podman"]
  const found = candidates.find((c) => answers(c, ["info"]))
  if (found) return found
  die(
    wanted
      ? `${wanted} does not answer (\`${wanted} info\` fails): start its daemon or pick another CONTAINER_ENGINE.`
      : "neither docker nor podman answers (`docker info` / `podman info`): install one (apt-get install -y podman runc) or start the Docker daemon.",
  )
})()

const imageExists = (tag) => answers(engine, ["image", "inspect", tag])

/** The apt mirror this machine installs from (deb822 .sources or sources.list), else Debian's own. */
const debianMirror = () => {
  if (process.env.DEBIAN_MIRROR) return process.env.DEBIAN_MIRROR
  const files = [
    "/etc/apt/sources.list",
    ...(existsSync("/etc/apt/sources.list.d")
      ? readdirSync("/etc/apt/sources.list.d").map((f) => join("/etc/apt/sources.list.d", f))
      : []),
  ]
  for (const file of files.filter((f) => /\.(list|sources)$/.test(f) && existsSync(f))) {
    const text = readFileSync(file, "utf8")
    const uri =
      /^URIs:\s*(\S+\/debian)\s*$/m.exec(text)?.[1] ??
      /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\s+bookworm\b/m.exec(text)?.[1]
    if (uri) return uri
  }
  return "http://deb.debian.org/debian"
}

/** Debian bookworm minbase + Node 24 + npm, made offline and kept as a local image (built once per Node version). */
const offlineBase = () => {
  const nodeBinary = realpathSync(join(root, "node_modules", ".bin", "node"))
  const nodeVersion = execFileSync(nodeBinary, ["--version"], { encoding: "utf8" }).trim()
  const tag = `localhost/convos-base:bookworm-node${nodeVersion.replace(/^v/, "")}`
  if (imageExists(tag)) {
    console.log(`image: base ${tag} (cached; remove it with \`${engine} rmi ${tag}\` to make it again)`)
    return tag
  }
  if (!answers("debootstrap", ["--version"]))
    die(
      "no BASE_IMAGE and no debootstrap to make a base offline: set BASE_IMAGE=node:24-bookworm-slim where a registry is reachable, or apt-get install -y debootstrap.",
    )
  const npmDir = process.env.npm_execpath ? dirname(dirname(realpathSync(process.env.npm_execpath))) : null
  if (!npmDir || !existsSync(join(npmDir, "bin", "npm-cli.js")))
    die("run this through npm (npm run image:runtime): the base image takes the running npm.")
  const mirror = debianMirror()
  const work = mkdtempSync(join(tmpdir(), "convos-base-"))
  const rootfs = join(work, "rootfs")
  try {
    console.log(`image: no BASE_IMAGE; making ${tag} offline: debootstrap minbase bookworm from ${mirror} …`)
    run("debootstrap", ["--variant=minbase", "bookworm", rootfs, mirror], { stdio: ["ignore", "ignore", "inherit"] })
    for (const dir of ["var/cache/apt/archives", "var/lib/apt/lists"])
      for (const f of readdirSync(join(rootfs, dir)))
        if (f.endsWith(".deb") || f.includes("_")) rmSync(join(rootfs, dir, f), { force: true })
    cpSync(nodeBinary, join(rootfs, "usr/local/bin/node"))
    cpSync(npmDir, join(rootfs, "usr/local/lib/node_modules/npm"), { recursive: true })
    symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", join(rootfs, "usr/local/bin/npm"))
    symlinkSync("../lib/node_modules/npm/bin/npx-cli.js", join(rootfs, "usr/local/bin/npx"))
    const tar = spawnSync("tar", ["-C", rootfs, "-c", "."], { maxBuffer: 4 * 1024 ** 3 })
    if (tar.status !== 0) die(`tar of the base rootfs failed: ${tar.stderr}`)
    run(
      engine,
      ["import", "--change", "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin", "-", tag],
      { input: tar.stdout, stdio: ["pipe", "ignore", "inherit"] },
    )
    return tag
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

/**
 * The CA bundle npm trusts on this machine (NODE_EXTRA_CA_CERTS, else npm's cafile), for the build's npm behind a
 * TLS-inspecting proxy: passed as the build secret `ca` (a mounted file, never a layer); an empty file when none.
 */
const caBundle = () => {
  const npmCafile = spawnSync("npm", ["config", "get", "cafile"], { encoding: "utf8" }).stdout?.trim()
  const file = [process.env.NODE_EXTRA_CA_CERTS, npmCafile].find(
    (f) => f && f !== "null" && f !== "undefined" && existsSync(f),
  )
  if (file) return file
  const empty = join(mkdtempSync(join(tmpdir(), "convos-ca-")), "none.pem")
  writeFileSync(empty, "")
  return empty
}

const started = Date.now()
const base = process.env.BASE_IMAGE || offlineBase()
const tag = process.env.IMAGE_TAG || target.tag
const dockerfile = join(root, target.dockerfile)
// podman: Docker image format (OCI drops HEALTHCHECK), the Dockerfile's ignore file, the host network for npm.
const engineArgs =
  engine === "podman" ? ["--format", "docker", "--network", "host", "--ignorefile", `${dockerfile}.dockerignore`] : []
console.log(`image: building ${tag} from ${target.dockerfile} on ${base} with ${engine} …`)
const ca = caBundle()
run(
  engine,
  [
    "build",
    "-f",
    dockerfile,
    "-t",
    tag,
    "--build-arg",
    `BASE_IMAGE=${base}`,
    "--secret",
    `id=ca,src=${ca}`,
    ...engineArgs,
    root,
  ],
  engine === "docker" ? { env: { ...process.env, DOCKER_BUILDKIT: "1" } } : {},
)
const bytes = Number(
  execFileSync(engine, ["image", "inspect", tag, "--format", "{{.Size}}"], { encoding: "utf8" }).trim(),
)
console.log(
  `image: ${tag} built with ${engine} in ${Math.round((Date.now() - started) / 1000)} s; size ${(bytes / 1024 ** 2).toFixed(0)} MB (${bytes} bytes)`,
)
