// Shared by the image scripts: the container engine (docker or podman, whichever answers), running commands, the cache
// folder outside the repository, and one lock per machine so two builds (CI's background build and a test's) never
// run at once: the second waits, then finds the first one's image by its fingerprint.
import { spawnSync } from "node:child_process"
import { mkdirSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"

export const die = (message) => {
  console.error(`image: ${message}`)
  process.exit(1)
}

export const answers = (cmd, args) => spawnSync(cmd, args, { stdio: "ignore" }).status === 0

export const run = (cmd, args, options = {}) => {
  const result = spawnSync(cmd, args, { stdio: "inherit", ...options })
  if (result.status !== 0)
    die(`${cmd} ${args.join(" ")} failed (exit ${result.status ?? result.signal ?? result.error?.message})`)
  return result
}

/** Its output, trimmed; null when it fails. */
export const output = (cmd, args) => {
  const result = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 ** 2 })
  return result.status === 0 ? result.stdout.trim() : null
}

/** Where the image scripts keep what outlives a clone (the debootstrap rootfs, the lock, the staged /app). */
export const cacheDir = () => {
  const dir = join(homedir(), ".cache", "convos-agents", "images")
  mkdirSync(dir, { recursive: true })
  return dir
}

/** docker or podman: the first whose engine answers (a docker CLI without a daemon does not count). */
export const findEngine = () => {
  const wanted = process.env.CONTAINER_ENGINE
  const candidates = wanted ? [wanted] : ["docker", "podman"]
  const found = candidates.find((c) => answers(c, ["info"]))
  if (found) return found
  die(
    wanted
      ? `${wanted} does not answer (\`${wanted} info\` fails): start its daemon or pick another CONTAINER_ENGINE.`
      : "neither docker nor podman answers (`docker info` / `podman info`): install one (apt-get install -y podman runc) or start the Docker daemon.",
  )
}

export const imageExists = (engine, tag) => answers(engine, ["image", "inspect", tag])

/**
 * Runs this script again under `flock` on the machine's image lock (when flock exists, i.e. on Linux) and exits with
 * its status; returns only in the process that holds the lock (argv carries --locked).
 */
export const holdImageLock = () => {
  if (process.argv.includes("--locked") || !answers("flock", ["--version"])) return
  const lock = join(cacheDir(), "build.lock")
  const again = [process.execPath, ...process.argv.slice(1), "--locked"]
  const BUSY = 111
  let result = spawnSync("flock", ["-n", "-E", String(BUSY), lock, ...again], { stdio: "inherit" })
  if (result.status === BUSY) {
    console.log(
      `image: another image build holds ${lock}; waiting for it (its image is then reused if it is this one)…`,
    )
    result = spawnSync("flock", [lock, ...again], { stdio: "inherit" })
  }
  process.exit(result.status ?? 1)
}
