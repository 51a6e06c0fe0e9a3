// The base image made offline (no BASE_IMAGE, no registry): Debian bookworm minbase + this repository's pinned Node 24
// and npm. Two steps, each kept:
//  1. the OS: debootstrap's rootfs as a tarball in the cache folder outside the repository (debootstrap takes 2–7 min
//     on a 2-core machine; a fresh clone or a cleaned image store then only imports it), imported as OS_TAG;
//  2. Node and npm on it: a one-layer build (seconds), `localhost/convos-base:bookworm-node<version>`.
import { execFileSync } from "node:child_process"
import {
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs"
import { dirname, join } from "node:path"
import { answers, cacheDir, die, imageExists, output, run } from "./engine.mjs"

export const OS_TAG = "localhost/convos-debian:bookworm-minbase"
const PATH_ENV = "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"

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

/** The minbase rootfs tarball, made with debootstrap once per machine (kept in the cache folder). */
const osTarball = () => {
  const tarball = join(cacheDir(), "debian-bookworm-minbase.tar")
  if (existsSync(tarball)) return tarball
  if (!answers("debootstrap", ["--version"]))
    die(
      "no BASE_IMAGE and no debootstrap to make a base offline: set BASE_IMAGE=node:24-bookworm-slim where a registry is reachable, or apt-get install -y debootstrap.",
    )
  const mirror = debianMirror()
  const work = mkdtempSync(join(cacheDir(), "rootfs-"))
  const rootfs = join(work, "rootfs")
  try {
    const t0 = Date.now()
    console.log(`image: making the Debian bookworm minbase offline: debootstrap from ${mirror} …`)
    run("debootstrap", ["--variant=minbase", "bookworm", rootfs, mirror], { stdio: ["ignore", "ignore", "inherit"] })
    for (const dir of ["var/cache/apt/archives", "var/lib/apt/lists"])
      for (const f of readdirSync(join(rootfs, dir)))
        if (f.endsWith(".deb") || f.includes("_")) rmSync(join(rootfs, dir, f), { force: true })
    run("tar", ["-C", rootfs, "-cf", `${tarball}.part`, "."])
    renameSync(`${tarball}.part`, tarball)
    console.log(`image: debootstrap minbase made in ${Math.round((Date.now() - t0) / 1000)} s, kept as ${tarball}`)
    return tarball
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

/** OS_TAG in the engine's store: imported from the kept tarball (made first when there is none). */
export const osBase = (engine) => {
  if (imageExists(engine, OS_TAG)) return OS_TAG
  const tarball = osTarball()
  run(engine, ["import", "--change", PATH_ENV, tarball, OS_TAG], { stdio: ["ignore", "ignore", "inherit"] })
  return OS_TAG
}

/** npm's own folder (…/lib/node_modules/npm): the one running this script, else the one on PATH. */
const npmDir = () => {
  const candidates = [process.env.npm_execpath, output("sh", ["-c", "command -v npm"])]
  for (const c of candidates.filter(Boolean)) {
    const dir = dirname(dirname(realpathSync(c)))
    if (existsSync(join(dir, "bin", "npm-cli.js"))) return dir
  }
  die("no npm found (npm_execpath, or npm on PATH): run this through npm (npm run image:runtime).")
}

/** Debian minbase + the pinned Node 24 (node_modules/.bin/node) + npm, built once per Node version. */
export const nodeBase = (engine, root) => {
  const nodeBinary = realpathSync(join(root, "node_modules", ".bin", "node"))
  const version = execFileSync(nodeBinary, ["--version"], { encoding: "utf8" }).trim().replace(/^v/, "")
  const tag = `localhost/convos-base:bookworm-node${version}`
  if (imageExists(engine, tag)) {
    console.log(`image: base ${tag} (kept; \`${engine} rmi ${tag}\` to make it again)`)
    return tag
  }
  const os = osBase(engine)
  const context = mkdtempSync(join(cacheDir(), "base-"))
  try {
    // The files as they go into /usr/local: no RUN step, so no container runs to make the base.
    const local = join(context, "usr", "local")
    mkdirSync(join(local, "bin"), { recursive: true })
    try {
      linkSync(nodeBinary, join(local, "bin", "node"))
    } catch {
      cpSync(nodeBinary, join(local, "bin", "node"))
    }
    cpSync(npmDir(), join(local, "lib", "node_modules", "npm"), { recursive: true })
    symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", join(local, "bin", "npm"))
    symlinkSync("../lib/node_modules/npm/bin/npx-cli.js", join(local, "bin", "npx"))
    writeFileSync(join(context, "Dockerfile"), `FROM ${os}\nCOPY usr/ /usr/\n${PATH_ENV}\n`)
    console.log(`image: making ${tag}: ${os} + Node ${version} + npm …`)
    const format = engine === "podman" ? ["--format", "docker"] : []
    run(engine, ["build", ...format, "-q", "-t", tag, context], { stdio: ["ignore", "ignore", "inherit"] })
    return tag
  } finally {
    rmSync(context, { recursive: true, force: true })
  }
}

/** For `node scripts/image.mjs os`: the OS step alone, which needs no `npm ci` (CI starts it before installing). */
export const prepareOs = (engine) => {
  const t0 = Date.now()
  const tag = osBase(engine)
  console.log(`image: ${tag} ready (${Math.round((Date.now() - t0) / 1000)} s)`)
}
