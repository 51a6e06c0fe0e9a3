// Runs a devnet server as its own process: `node --import tsx messaging/devnet/server-cli.ts --port N --data DIR`.
// Prints `devnet listening on <url>` once ready and writes <url> to --url-file (default <data>/../devnet.url when --data
// is the default) so other processes (terminal chat, web) can find it. Stops on SIGINT/SIGTERM.
import { writeFileSync, mkdirSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { parseArgs } from "node:util"
import { Effect } from "effect"
import { DataDir } from "@convos-agents/contract"
import { startDevnetServer } from "./server.ts"

const { values } = parseArgs({
  options: {
    port: { type: "string", default: process.env.DEVNET_PORT ?? "0" },
    data: { type: "string" },
    "url-file": { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
  },
})
const dataRoot = resolve(Effect.runSync(DataDir))
const dataDir = resolve(values.data ?? `${dataRoot}/devnet`)
const port = Number(values.port)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a whole number 0..65535 (0 = any free port), got "${values.port}".`)
  process.exit(2)
}
const running = await startDevnetServer({ port, dataDir, host: values.host })
const urlFile = values["url-file"] ?? (values.data ? undefined : `${dataRoot}/devnet.url`)
if (urlFile) {
  mkdirSync(dirname(urlFile), { recursive: true })
  writeFileSync(urlFile, `${running.url}\n`)
}
console.log(`devnet listening on ${running.url} (data: ${dataDir})`)
const stop = () => {
  void running.close().then(() => process.exit(0))
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
