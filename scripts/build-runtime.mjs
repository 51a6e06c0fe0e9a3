// Compiles the agent runtime ahead of time, so no TypeScript loader (tsx) runs inside an agent:
//   runtime/gateway/extensions/convos/src/index.ts → runtime/gateway/extensions/convos/dist/index.js (the OpenClaw plugin,
//     with runtime/src, messaging, contract and effect bundled in: one file for OpenClaw to capture)
//   runtime/src/cli.ts → runtime/dist/cli.mjs (`runtime apply|start`)
// Left outside the bundles: the OpenClaw SDK (the gateway links its own copy into the plugin) and the XMTP SDK with its
// native bindings (a .node binary found next to its package). The SDK stays a dynamic import() (loadXmtpSdk): bundled,
// esbuild hoisted the bindings' import to the top of the plugin, so every load of the plugin loaded the .node, and
// OpenClaw's extra loads of the plugin failed with "Cannot find native binding" and drained the gateway mid-turn.
//
// `node scripts/build-runtime.mjs` always builds; `--if-stale` builds only when an output is missing or a source it was
// built from changed since (the list of sources is kept in runtime/dist/build-inputs.json). The root postinstall runs it,
// and the local compute layer runs it with --if-stale before it starts an agent, so a fresh clone works with
// `npm install && npm start` and an edited source never runs stale.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const pluginDir = join(root, "runtime", "gateway", "extensions", "convos")
const targets = [
  { entry: join(pluginDir, "src", "index.ts"), outfile: join(pluginDir, "dist", "index.js") },
  { entry: join(root, "runtime", "src", "cli.ts"), outfile: join(root, "runtime", "dist", "cli.mjs") },
]
const inputsFile = join(root, "runtime", "dist", "build-inputs.json")

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs
  } catch {
    return Number.POSITIVE_INFINITY // gone: stale
  }
}

/** Why a build is needed, or null when every output is newer than every source it was built from. */
export const staleReason = () => {
  if (!existsSync(inputsFile)) return "never built"
  const missing = targets.find((t) => !existsSync(t.outfile))
  if (missing) return `${relative(root, missing.outfile)} is missing`
  const builtAt = Math.min(...targets.map((t) => mtime(t.outfile)))
  const inputs = JSON.parse(readFileSync(inputsFile, "utf8"))
  const changed = [...inputs, "scripts/build-runtime.mjs"].find((input) => mtime(join(root, input)) > builtAt)
  return changed ? `${changed} changed` : null
}

export const buildRuntime = async () => {
  const { build } = await import("esbuild")
  const inputs = new Set()
  for (const t of targets) {
    const result = await build({
      absWorkingDir: root,
      entryPoints: [t.entry],
      outfile: t.outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node24",
      external: ["openclaw", "openclaw/*", "@xmtp/node-sdk", "@xmtp/node-bindings"],
      // CommonJS dependencies inside an ES module bundle still call require() for Node built-ins.
      banner: {
        js: 'import { createRequire as __convosCreateRequire } from "node:module"; const require = __convosCreateRequire(import.meta.url);',
      },
      metafile: true,
      logLevel: "warning",
      legalComments: "none",
    })
    for (const input of Object.keys(result.metafile.inputs)) if (!input.includes("node_modules/")) inputs.add(input)
  }
  mkdirSync(dirname(inputsFile), { recursive: true })
  writeFileSync(inputsFile, `${JSON.stringify([...inputs].sort(), null, 1)}\n`)
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // In a Docker layer that installs dependencies before the sources are copied there is nothing to build yet.
  if (process.argv.includes("--postinstall") && !existsSync(targets[0].entry)) {
    console.log(
      "[build-runtime] no runtime sources yet: not compiling (run `npm run build:runtime` once they are there)",
    )
    process.exit(0)
  }
  const ifStale = process.argv.includes("--if-stale")
  const reason = ifStale ? staleReason() : "asked"
  if (reason === null) process.exit(0)
  const t0 = performance.now()
  buildRuntime().then(
    () =>
      console.log(
        `[build-runtime] compiled the agent runtime (${reason}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      ),
    (e) => {
      console.error(`[build-runtime] compiling the agent runtime failed: ${e instanceof Error ? e.message : String(e)}`)
      process.exit(1)
    },
  )
}
