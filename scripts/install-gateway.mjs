// Root postinstall: install runtime/gateway (openclaw) with the pinned Node 24.
// openclaw's own install scripts refuse Node < 24, and `npm install` may be started by an older system Node,
// so it cannot be an ordinary workspace dependency. By the time this runs, node_modules/.bin/node is Node 24
// and npm puts it first on PATH for lifecycle scripts.
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const gatewayDir = join(root, "runtime", "gateway")
const localBin = join(root, "node_modules", ".bin")

if (process.env.CONVOS_SKIP_GATEWAY_INSTALL === "1") {
  console.log("[postinstall] CONVOS_SKIP_GATEWAY_INSTALL=1: not installing the OpenClaw gateway")
  process.exit(0)
}
const major = Number(process.versions.node.split(".")[0])
if (major < 24) {
  console.error(
    `[postinstall] Node ${process.versions.node} runs this script; expected the pinned Node 24 from node_modules/.bin.`,
  )
  process.exit(1)
}
const hasLock = existsSync(join(gatewayDir, "package-lock.json"))
const args = [hasLock ? "ci" : "install", "--no-audit", "--no-fund", "--loglevel=error"]
console.log(
  `[postinstall] installing the OpenClaw gateway in runtime/gateway (npm ${args[0]}) on Node ${process.versions.node}…`,
)
const result = spawnSync("npm", args, {
  cwd: gatewayDir,
  stdio: "inherit",
  env: { ...process.env, PATH: `${localBin}:${process.env.PATH ?? ""}` },
})
if (result.status !== 0) {
  console.error("[postinstall] installing runtime/gateway failed; run `npm install` again, or see the npm log above.")
  process.exit(result.status ?? 1)
}
