// Compute on this machine: each instance is a `runtime start` child process (Node 24, its own process group) on a
// free loopback port with its own state dir under DATA_DIR/instances/<id>. A pid/port file in the state dir lets a
// restarted manager re-adopt instances that are still running (after checking the pid really is that runtime) and
// reap the rest: a reaped instance's process group is stopped (its gateway can outlive the CLI) and its state dir,
// which holds the agent's provision-time secrets (.env), is removed. Closing the layer's scope stops every instance
// it knows. The runtime's env comes from the pool's config (../runtimeEnv.ts), shared with the Railway layer.
import { spawn } from "node:child_process"
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Config, Effect, Layer } from "effect"
import { ProviderError } from "../../../domain/errors.ts"
import { Compute, type ComputeSpec, type ComputeStatus } from "../Compute.ts"
import { runtimeBootEnv } from "../runtimeEnv.ts"
import { freePort, isAlive, isOurRuntime, portAccepts, terminateGroup } from "./processes.ts"

export interface LocalComputeOptions {
  /** Instances live under <dataDir>/instances/<id>. */
  readonly dataDir: string
  /**
   * Env every instance gets on top of the pool's runtime env (../runtimeEnv.ts: XMTP_ENV or DEVNET_URL, model);
   * spec.env and the token are added per instance. A DEVNET_URL here is the devnet to use when XMTP_ENV is unset.
   */
  readonly baseEnv?: Readonly<Record<string, string>>
  /** How long destroy/shutdown wait after SIGTERM before SIGKILL. Default 10 s. */
  readonly stopGraceMs?: number
}

interface InstanceRecord {
  readonly instanceId: string
  readonly pid: number
  readonly port: number
  readonly startedAt: string
}

const repoRoot = resolve(fileURLToPath(new URL("../../../../", import.meta.url)))
const runtimeCli = join(repoRoot, "runtime", "src", "cli.ts")
/** Node 24 from the repo's node_modules (the system node may be older); falls back to the current node. */
const nodeBinary = () => {
  const local = join(repoRoot, "node_modules", ".bin", "node")
  return existsSync(local) ? local : process.execPath
}

/**
 * The only variables an agent takes from the manager's environment (an allowlist: the agent talks to strangers, so
 * nothing of the manager's reaches it: no POOL_*, DATABASE_URL, provider keys, NODE_OPTIONS, HOME). Everything else
 * it needs comes from runtimeBootEnv (the pool's config, shared with Railway) and the spec.
 */
const PASS_THROUGH = /^(PATH|LANG|LANGUAGE|LC_[A-Z]+|TZ|TMPDIR)$/

/** tsx's ESM loader by absolute URL: the agent runs with its state dir as cwd, where `--import tsx` would not resolve. */
const tsxLoader = () => pathToFileURL(join(repoRoot, "node_modules", "tsx", "dist", "esm", "index.mjs")).href

const SAFE_ID = /^[A-Za-z0-9_-]+$/

const fail = (operation: string, message: string) => new ProviderError({ provider: "local", operation, status: null, retryable: false, message })

const recordPath = (stateDir: string) => join(stateDir, "instance.json")

const readRecord = (stateDir: string): InstanceRecord | null => {
  try {
    return JSON.parse(readFileSync(recordPath(stateDir), "utf8")) as InstanceRecord
  } catch {
    return null
  }
}

export const makeLocalCompute = (options: LocalComputeOptions) =>
  Effect.gen(function* () {
    const instancesDir = resolve(options.dataDir, "instances")
    mkdirSync(instancesDir, { recursive: true })
    const grace = options.stopGraceMs ?? 10_000
    const known = new Map<string, InstanceRecord>()
    const exits = new Map<string, number | null>()
    const stateDirOf = (id: string) => join(instancesDir, id)
    const devnetFile = join(resolve(options.dataDir), "devnet.url")
    const bootEnv = yield* runtimeBootEnv({
      devnetUrl: options.baseEnv?.DEVNET_URL ?? (existsSync(devnetFile) ? readFileSync(devnetFile, "utf8").trim() || null : null),
    })
    /** Stops the instance's whole process group (verified by /proc), whether or not its CLI is still alive. */
    const stopGroup = (record: InstanceRecord) => terminateGroup(record.pid, stateDirOf(record.instanceId), grace)

    // Re-adopt or reap what a previous manager left behind.
    for (const id of readdirSync(instancesDir)) {
      const record = readRecord(stateDirOf(id))
      if (record && record.instanceId === id && isAlive(record.pid) && isOurRuntime(record.pid, id)) {
        known.set(id, record)
        yield* Effect.logInfo(`local compute: re-adopted instance ${id} (pid ${record.pid}, port ${record.port})`)
        continue
      }
      // The CLI is gone (or the pid is someone else's now), but its gateway may not be: stop the group, then remove
      // the state dir with the agent's secrets. Nothing can adopt it any more.
      const stopped = record ? yield* Effect.promise(() => stopGroup({ ...record, instanceId: id })) : 0
      rmSync(stateDirOf(id), { recursive: true, force: true })
      yield* Effect.logInfo(`local compute: reaped instance ${id} (runtime gone${stopped > 0 ? `; stopped ${stopped} leftover process(es)` : ""})`)
    }

    yield* Effect.addFinalizer(() =>
      Effect.promise(() => Promise.all([...known.values()].map(stopGroup))).pipe(
        Effect.andThen(Effect.sync(() => {
          for (const id of known.keys()) rmSync(recordPath(stateDirOf(id)), { force: true })
          known.clear()
        }))
      )
    )

    const create = (spec: ComputeSpec) =>
      Effect.tryPromise({
        try: async () => {
          if (!SAFE_ID.test(spec.instanceId)) throw new Error(`instance id "${spec.instanceId}" must be [A-Za-z0-9_-]`)
          const existing = known.get(spec.instanceId)
          if (existing && isAlive(existing.pid)) return existing
          const stateDir = stateDirOf(spec.instanceId)
          mkdirSync(stateDir, { recursive: true, mode: 0o700 })
          const port = await freePort()
          const parentEnv = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => v !== undefined && PASS_THROUGH.test(k))) as Record<string, string>
          const { DEVNET_URL: _devnet, ...extra } = options.baseEnv ?? {}
          const env = {
            ...parentEnv,
            ...bootEnv,
            ...extra,
            ...spec.env,
            INSTANCE_ID: spec.instanceId,
            INSTANCE_TOKEN: spec.instanceToken,
            OPENCLAW_STATE_DIR: stateDir,
            // The agent's XMTP databases live in its own state dir (the default, $DATA_DIR/xmtp, is the manager's).
            XMTP_DB_DIR: join(stateDir, "xmtp"),
            PORT: String(port),
          }
          const log = openSync(join(stateDir, "runtime.log"), "a")
          const child = spawn(nodeBinary(), ["--import", tsxLoader(), runtimeCli, "start", "--instance", spec.instanceId], {
            // Its own state dir, not the repo root: relative paths (OpenClaw's ./.env, .data/…) resolve to the agent's
            // files, never the manager's DATA_DIR.
            cwd: stateDir,
            env,
            detached: true, // own process group: destroy reaches the gateway grandchild too
            stdio: ["ignore", log, log],
          })
          closeSync(log)
          if (!child.pid) throw new Error("the runtime process did not start")
          const record: InstanceRecord = { instanceId: spec.instanceId, pid: child.pid, port, startedAt: new Date().toISOString() }
          child.once("exit", (code) => exits.set(spec.instanceId, code))
          child.unref()
          writeFileSync(recordPath(stateDir), JSON.stringify(record))
          known.set(spec.instanceId, record)
          return record
        },
        catch: (e) => fail("create", `Could not start a local agent process: ${e instanceof Error ? e.message : String(e)}. Check free memory (~1.3 GB per agent) and Node 24 in node_modules/.bin.`),
      }).pipe(Effect.map((r) => ({ providerRef: r.instanceId, providerProjectRef: null, url: `http://127.0.0.1:${r.port}` })))

    const destroy = (providerRef: string) =>
      Effect.promise(async () => {
        if (!SAFE_ID.test(providerRef)) return // not one of ours (and never a path outside instances/)
        const record = known.get(providerRef) ?? readRecord(stateDirOf(providerRef))
        if (record) await stopGroup({ ...record, instanceId: providerRef })
        known.delete(providerRef)
        exits.delete(providerRef)
        rmSync(stateDirOf(providerRef), { recursive: true, force: true })
      })

    const statusOf = async (ref: string): Promise<ComputeStatus> => {
      const record = known.get(ref)
      if (!record) return { providerRef: ref, state: "gone", url: null }
      const url = `http://127.0.0.1:${record.port}`
      if (!isAlive(record.pid)) {
        const code = exits.get(ref)
        return { providerRef: ref, state: code === 0 ? "gone" : "failed", url, detail: `process ${record.pid} exited${code === undefined || code === null ? "" : ` with code ${code}`}; see ${join(stateDirOf(ref), "runtime.log")}` }
      }
      return { providerRef: ref, state: (await portAccepts(record.port)) ? "running" : "starting", url }
    }

    return Compute.of({
      name: "local",
      create,
      destroy,
      statusBatch: (refs) =>
        Effect.promise(async () => new Map((await Promise.all(refs.map((r) => statusOf(r.providerRef)))).map((s) => [s.providerRef, s] as const))),
    })
  })

/** Local compute as a layer; its scope owns the child processes. */
export const localComputeLayer = (options: LocalComputeOptions) => Layer.effect(Compute, makeLocalCompute(options))

/** From the environment: DATA_DIR (default .data). */
export const LocalComputeLive = Layer.unwrap(
  Effect.gen(function* () {
    const dataDir = yield* Config.String("DATA_DIR").pipe(Config.withDefault(".data"))
    return localComputeLayer({ dataDir })
  })
)

