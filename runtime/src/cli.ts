// `runtime apply` – write openclaw.json + workspace + skills into the state dir.
// `runtime start` – apply, then become the OpenClaw gateway (execve: one process, no wrapper; see gateway.ts).
// Compiled ahead of time (scripts/build-runtime.mjs): `node runtime/dist/cli.mjs start` with Node 24. Secrets are
// never printed.
import { applyRuntime } from "./config/apply.ts"
import { describeSettings, SettingsError, settingsFromEnv } from "./config/settings.ts"
import { execGateway } from "./gateway.ts"

const usage =
  "usage: runtime <apply|start>\n  env: OPENCLAW_STATE_DIR (or STATE_DIR), PORT, INSTANCE_TOKEN, OPENROUTER_API_KEY, OPENCLAW_PRIMARY_MODEL, DEVNET_URL | XMTP_ENV"

const main = async (command: string | undefined): Promise<number> => {
  if (command !== "apply" && command !== "start") {
    console.error(usage)
    return 64
  }
  const [major, minor] = process.versions.node.split(".").map(Number) as [number, number]
  if (command === "start" && (major < 24 || (major === 24 && minor < 16))) {
    console.error(
      `runtime: Node ${process.versions.node} is too old for OpenClaw; run with Node 24.16+ (node_modules/.bin/node).`,
    )
    return 69
  }
  const settings = settingsFromEnv(process.env)
  if (command === "start" && !settings.token) {
    console.error(
      "runtime: INSTANCE_TOKEN (or OPENCLAW_GATEWAY_TOKEN) is required: every route but /pool/health checks it.",
    )
    return 78
  }
  const applied = applyRuntime(settings, process.env)
  console.log(`runtime: applied ${describeSettings(settings, process.env)} files=${applied.workspaceFiles.join(",")}`)
  if (command === "apply") return 0
  return execGateway(settings, process.env)
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (e) => {
    console.error(`runtime: ${e instanceof SettingsError ? e.message : e instanceof Error ? e.stack : String(e)}`)
    process.exit(1)
  },
)
