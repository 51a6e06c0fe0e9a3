// The web end-to-end test drives Debian's chromium (issue: "installed when missing"), so `npm test` on a fresh
// machine installs it through apt when it can (root + apt-get), instead of failing on something nobody installed.
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"

const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"
if (!existsSync(chromium)) {
  const canInstall = process.getuid?.() === 0 && existsSync("/usr/bin/apt-get") && !process.env.CHROMIUM_PATH
  if (!canInstall) {
    console.error(
      `Chromium is missing at ${chromium}; the web browser test needs it.\n` +
        "Install it with `sudo apt-get update && sudo apt-get install -y chromium`, or set CHROMIUM_PATH to a Chromium binary.",
    )
    process.exit(1)
  }
  console.log("[test] installing chromium with apt-get for the web browser test (once per machine)…")
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
  try {
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env })
    execFileSync("apt-get", ["install", "-y", "-qq", "chromium"], { stdio: ["ignore", "ignore", "inherit"], env })
  } catch (error) {
    console.error(`Installing chromium failed (${error.message}). Install it by hand: apt-get install -y chromium`)
    process.exit(1)
  }
}
