// Compute on this machine: each instance is a `runtime start` child process (Node 24, its own process group) on a
// free loopback port with its own state dir under DATA_DIR/instances/<id> (the agent's identity, conversations,
// profile, provision-time secrets). A record in the state dir (records.ts) lets a restarted manager re-adopt instances
// that are still running (after checking the pid really is that runtime) and start the stopped ones again from their
// state, on the same port when it is free. Stop is not destroy: closing the layer's scope (Ctrl-C, a failed start)
// stops the processes and keeps every state dir; only `destroy` (the pool's release, kill, drain, expiry) removes one.
// The runtime's env comes from the pool's config (../runtimeEnv.ts), shared with the Railway layer.
import { spawn, spawnSync } from "node:child_process"
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Layer } from "effect"
import { DataDir } from "@convos-agents/contract"
import { ProviderError } from "../../../domain/errors.ts"
import { Compute, type ComputeSpec, type ComputeStatus } from "../Compute.ts"
import { readLogTail } from "../logTail.ts"
import { runtimeBootEnv } from "../runtimeEnv.ts"
import { freePort, isAlive, isOurRuntime, portAccepts, portFree, terminateGroup } from "./processes.ts"
import { type InstanceRecord, readRecord, resumable, writeRecord } from "./records.ts"

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
  /**
   * A runtime that exits on its own (a crash, a gateway that failed to start on a loaded machine) is started again
   * from its state, like a Railway service's on-failure restart policy: up to `maxRestarts` times (default 5), after
   * `baseDelayMs` (default 1 s) doubling each time; the count starts over once it has run for 10 minutes.
   */
  readonly restartOnFailure?: { readonly maxRestarts?: number; readonly baseDelayMs?: number }
}

/** An instance that has run this long without exiting has its restart count reset. */
const STABLE_AFTER_MS = 10 * 60_000

const repoRoot = resolve(fileURLToPath(new URL("../../../../", import.meta.url)))
/** The runtime CLI, compiled ahead of time (scripts/build-runtime.mjs): no TypeScript loader runs in an agent. */
const runtimeCli = join(repoRoot, "runtime", "dist", "cli.mjs")
const buildScript = join(repoRoot, "scripts", "build-runtime.mjs")
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

/**
 * Compiles the runtime (CLI + OpenClaw plugin) when a source changed since the last build (a fresh clone is built by
 * `npm install`; this keeps an edited checkout from starting stale agents). Fails with the build's own message.
 */
const ensureRuntimeBuilt = Effect.suspend(() => {
  const result = spawnSync(nodeBinary(), [buildScript, "--if-stale"], { cwd: repoRoot, encoding: "utf8" })
  if (result.status === 0) return Effect.void
  const output =
    `${result.stderr ?? ""}${result.stdout ?? ""}`.trim() || String(result.error ?? `exit code ${result.status}`)
  return Effect.fail(
    fail(
      "create",
      `Compiling the agent runtime failed (node scripts/build-runtime.mjs): ${output}. Fix the error and start again.`,
    ),
  )
})

const SAFE_ID = /^[A-Za-z0-9_-]+$/

const fail = (operation: string, message: string) =>
  new ProviderError({ provider: "local", operation, status: null, retryable: false, message })

export const makeLocalCompute = (options: LocalComputeOptions) =>
  Effect.gen(function* () {
    yield* ensureRuntimeBuilt
    const instancesDir = resolve(options.dataDir, "instances")
    mkdirSync(instancesDir, { recursive: true })
    const grace = options.stopGraceMs ?? 10_000
    const known = new Map<string, InstanceRecord>()
    const exits = new Map<string, number | null>()
    /** Instances this layer is stopping (shutdown, destroy): their exit is not a crash. */
    const stopping = new Set<string>()
    /** Known instances that are not running (kept stopped after a restart): their recorded pid means nothing now. */
    const down = new Set<string>()
    const stateDirOf = (id: string) => join(instancesDir, id)
    const devnetFile = join(resolve(options.dataDir), "devnet.url")
    const bootEnv = yield* runtimeBootEnv({
      devnetUrl:
        options.baseEnv?.DEVNET_URL ??
        (existsSync(devnetFile) ? readFileSync(devnetFile, "utf8").trim() || null : null),
    })
    /** Stops the instance's whole process group (verified by /proc), whether or not its CLI is still alive. */
    const stopGroup = (record: InstanceRecord) => terminateGroup(record.pid, stateDirOf(record.instanceId), grace)

    const maxRestarts = options.restartOnFailure?.maxRestarts ?? 5
    const baseDelayMs = options.restartOnFailure?.baseDelayMs ?? 1_000
    /** Restarts after exits on their own, per instance, and the pending restart's timer. */
    const restarts = new Map<string, { count: number; timer: NodeJS.Timeout | null; code: number | null }>()
    let closed = false

    /** Out of restarts (or nothing to restart with): recorded as crashed, so neither we nor a restart brings it back. */
    const markExited = (id: string, code: number | null) => {
      const record = known.get(id)
      if (!record || record.exitedAt !== undefined) return
      const exited: InstanceRecord = { ...record, exitedAt: new Date().toISOString(), exitCode: code }
      known.set(id, exited)
      writeRecord(stateDirOf(id), exited)
    }

    /** A process that ended without this layer stopping it: started again after a backoff, a few times (see options). */
    const noteExit = (id: string, pid: number, code: number | null) => {
      exits.set(id, code)
      const record = known.get(id)
      if (closed || stopping.has(id) || !record || record.pid !== pid || record.exitedAt !== undefined) return
      const previous = restarts.get(id)
      if (previous?.timer) return // already restarting
      const count = previous?.count ?? 0
      // Exit 0 is a clean stop by someone else (not a failure): left stopped, like an on-failure restart policy does.
      if (code === 0 || count >= maxRestarts || !resumable(record)) return markExited(id, code)
      const delay = baseDelayMs * 2 ** count
      const timer = setTimeout(() => {
        const current = restarts.get(id)
        if (current) current.timer = null
        if (closed || stopping.has(id) || known.get(id)?.pid !== pid) return
        spawnRuntime({ instanceId: id, instanceToken: record.instanceToken, env: record.env ?? {} }, record.port).catch(
          () => markExited(id, code),
        )
      }, delay)
      timer.unref()
      restarts.set(id, { count: count + 1, timer, code })
    }

    /**
     * Starts `runtime start` for the instance on its state dir (new or kept from before), on `preferredPort` when it
     * is free (a restarted instance keeps its URL), else on a new free port.
     */
    const spawnRuntime = async (spec: ComputeSpec, preferredPort: number | null): Promise<InstanceRecord> => {
      const stateDir = stateDirOf(spec.instanceId)
      mkdirSync(stateDir, { recursive: true, mode: 0o700 })
      const port = preferredPort !== null && (await portFree(preferredPort)) ? preferredPort : await freePort()
      const parentEnv = Object.fromEntries(
        Object.entries(process.env).filter(([k, v]) => v !== undefined && PASS_THROUGH.test(k)),
      ) as Record<string, string>
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
      const child = spawn(nodeBinary(), [runtimeCli, "start", "--instance", spec.instanceId], {
        // Its own state dir, not the repo root: relative paths (OpenClaw's ./.env, .data/…) resolve to the agent's
        // files, never the manager's DATA_DIR.
        cwd: stateDir,
        env,
        detached: true, // own process group: destroy reaches the gateway's helper processes too
        stdio: ["ignore", log, log],
      })
      closeSync(log)
      if (!child.pid) throw new Error("the runtime process did not start")
      const pid = child.pid
      const record: InstanceRecord = {
        instanceId: spec.instanceId,
        pid,
        port,
        startedAt: new Date().toISOString(),
        instanceToken: spec.instanceToken,
        env: spec.env,
      }
      child.once("exit", (code) => noteExit(spec.instanceId, pid, code))
      child.unref()
      writeRecord(stateDir, record)
      known.set(spec.instanceId, record)
      exits.delete(spec.instanceId)
      stopping.delete(spec.instanceId)
      down.delete(spec.instanceId)
      return record
    }

    // What a previous manager left behind: running instances are re-adopted; stopped ones (a shutdown, or a machine
    // restart) start again from their state; ones that crashed on their own stay stopped for the pool to decide.
    // Nothing is deleted here: a state dir goes only when the pool destroys its instance.
    for (const id of readdirSync(instancesDir)) {
      const record = SAFE_ID.test(id) ? readRecord(stateDirOf(id)) : null
      if (!record || record.instanceId !== id) continue // not a started instance (nothing to run); left as it is
      if (isAlive(record.pid) && isOurRuntime(record.pid, id)) {
        known.set(id, record)
        yield* Effect.logInfo(`local compute: re-adopted instance ${id} (pid ${record.pid}, port ${record.port})`)
        continue
      }
      // The CLI is gone (or the pid is someone else's now), but its gateway may not be: stop what is left of the group.
      const leftovers = yield* Effect.promise(() => stopGroup(record))
      const note = leftovers > 0 ? ` (stopped ${leftovers} leftover process(es) first)` : ""
      if (!resumable(record)) {
        known.set(id, record)
        down.add(id)
        const why = record.exitedAt
          ? `it exited on its own${record.exitCode === undefined || record.exitCode === null ? "" : ` with code ${record.exitCode}`}`
          : "its record has no token to start it with"
        yield* Effect.logWarning(
          `local compute: instance ${id} stays stopped: ${why}${note}; its state is kept in ${stateDirOf(id)} until the pool destroys it`,
        )
        continue
      }
      const resumed = yield* Effect.tryPromise(() =>
        spawnRuntime({ instanceId: id, instanceToken: record.instanceToken, env: record.env ?? {} }, record.port),
      ).pipe(Effect.result)
      if (resumed._tag === "Success") {
        yield* Effect.logInfo(
          `local compute: started instance ${id} again from its state (pid ${resumed.success.pid}, port ${resumed.success.port})${note}`,
        )
      } else {
        known.set(id, record)
        down.add(id)
        yield* Effect.logWarning(
          `local compute: instance ${id} could not be started again (${String(resumed.failure.cause ?? resumed.failure)}); its state is kept in ${stateDirOf(id)}`,
        )
      }
    }

    // Stop is not destroy: the processes stop, their records say so, and every state dir stays for the next start.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        for (const r of restarts.values()) if (r.timer) clearTimeout(r.timer)
      }).pipe(
        Effect.andThen(
          Effect.promise(() =>
            Promise.all(
              [...known.values()].map(async (record) => {
                if (down.has(record.instanceId) || record.exitedAt !== undefined || !isAlive(record.pid)) return
                stopping.add(record.instanceId)
                await stopGroup(record)
                writeRecord(stateDirOf(record.instanceId), { ...record, stoppedAt: new Date().toISOString() })
              }),
            ),
          ),
        ),
        Effect.andThen(Effect.sync(() => known.clear())),
      ),
    )

    const create = (spec: ComputeSpec) =>
      Effect.tryPromise({
        try: async () => {
          if (!SAFE_ID.test(spec.instanceId)) throw new Error(`instance id "${spec.instanceId}" must be [A-Za-z0-9_-]`)
          const existing = known.get(spec.instanceId)
          if (existing && !down.has(spec.instanceId) && existing.exitedAt === undefined && isAlive(existing.pid))
            return existing
          // A stopped instance with this id starts again on its state (and its old port when free).
          return spawnRuntime(spec, existing?.port ?? null)
        },
        catch: (e) =>
          fail(
            "create",
            `Could not start a local agent process: ${e instanceof Error ? e.message : String(e)}. Check free memory (~1 GB per agent) and Node 24 in node_modules/.bin.`,
          ),
      }).pipe(
        Effect.map((r) => ({ providerRef: r.instanceId, providerProjectRef: null, url: `http://127.0.0.1:${r.port}` })),
      )

    const destroy = (providerRef: string) =>
      Effect.promise(async () => {
        if (!SAFE_ID.test(providerRef)) return // not one of ours (and never a path outside instances/)
        const record = known.get(providerRef) ?? readRecord(stateDirOf(providerRef))
        stopping.add(providerRef)
        const pending = restarts.get(providerRef)?.timer
        if (pending) clearTimeout(pending)
        restarts.delete(providerRef)
        if (record) await stopGroup({ ...record, instanceId: providerRef })
        known.delete(providerRef)
        down.delete(providerRef)
        exits.delete(providerRef)
        rmSync(stateDirOf(providerRef), { recursive: true, force: true })
        stopping.delete(providerRef)
      })

    /** Stops what is left of the instance and starts it again on its state dir, token, env and (when free) port. */
    const restart = (providerRef: string) =>
      // A restart runs the checkout as it is now: compiled again first when a source changed since the last build.
      Effect.mapError(ensureRuntimeBuilt, (e) => fail("restart", e.message)).pipe(
        Effect.andThen(restartProcess(providerRef)),
      )
    const restartProcess = (providerRef: string) =>
      Effect.tryPromise({
        try: async () => {
          const record = SAFE_ID.test(providerRef)
            ? (known.get(providerRef) ?? readRecord(stateDirOf(providerRef)))
            : null
          if (!record?.instanceToken) throw new Error("it has no record with a token to start it with")
          stopping.add(providerRef)
          const pending = restarts.get(providerRef)?.timer
          if (pending) clearTimeout(pending)
          restarts.delete(providerRef)
          await stopGroup({ ...record, instanceId: providerRef })
          stopping.delete(providerRef)
          return spawnRuntime(
            { instanceId: providerRef, instanceToken: record.instanceToken, env: record.env ?? {} },
            record.port,
          )
        },
        catch: (e) =>
          fail(
            "restart",
            `Could not start the local agent process again: ${e instanceof Error ? e.message : String(e)}. Its state is kept; see ${join(stateDirOf(providerRef), "runtime.log")}.`,
          ),
      }).pipe(
        Effect.map((r) => ({ providerRef: r.instanceId, providerProjectRef: null, url: `http://127.0.0.1:${r.port}` })),
      )

    const statusOf = async (ref: string): Promise<ComputeStatus> => {
      const record = known.get(ref)
      if (!record) return { providerRef: ref, state: "gone", url: null }
      const url = `http://127.0.0.1:${record.port}`
      const log = join(stateDirOf(ref), "runtime.log")
      if (down.has(ref)) {
        return {
          providerRef: ref,
          state: "failed",
          url,
          detail: `not running since the manager restarted${record.exitedAt ? " (it had exited on its own)" : ""}; its state is kept; see ${log}`,
        }
      }
      if (!isAlive(record.pid)) {
        // A re-adopted process is not our child: its end is seen here, not by an exit event.
        if (!exits.has(ref)) noteExit(ref, record.pid, null)
        const restart = restarts.get(ref)
        if (restart?.timer) {
          return {
            providerRef: ref,
            state: "starting",
            url,
            detail: `exited${restart.code === null ? "" : ` with code ${restart.code}`}; starting it again from its state (restart ${restart.count} of ${maxRestarts}); see ${log}`,
          }
        }
        const code = exits.get(ref) ?? null
        return {
          providerRef: ref,
          state: code === 0 ? "gone" : "failed",
          url,
          detail: `process ${record.pid} exited${code === null ? "" : ` with code ${code}`}; see ${log}`,
        }
      }
      const running = await portAccepts(record.port)
      // A real process's uptime: startedAt is written outside any fiber (spawns from restart timers), on the wall
      // clock, so it is compared on the wall clock, not on Effect's Clock.
      if (running && restarts.has(ref) && Date.now() - Date.parse(record.startedAt) > STABLE_AFTER_MS)
        restarts.delete(ref)
      return { providerRef: ref, state: running ? "running" : "starting", url }
    }

    return Compute.of({
      name: "local",
      create,
      destroy,
      restart,
      // A running instance is stopped and started again the same way: the new build, the same state dir.
      upgrade: restart,
      statusBatch: (refs) =>
        Effect.promise(
          async () =>
            new Map(
              (await Promise.all(refs.map((r) => statusOf(r.providerRef)))).map((s) => [s.providerRef, s] as const),
            ),
        ),
      // The child's stdout and stderr go to runtime.log in its state dir (kept across restarts, gone on destroy).
      logTail: (providerRef, maxBytes) =>
        SAFE_ID.test(providerRef)
          ? Effect.try({
              try: () =>
                readLogTail(join(stateDirOf(providerRef), "runtime.log"), maxBytes) ??
                "(no runtime.log: the agent's state dir was removed or it never started)",
              catch: (e) => fail("logs", `Reading the runtime log of ${providerRef} failed: ${String(e)}`),
            })
          : Effect.fail(fail("logs", `Not an instance id: "${providerRef.slice(0, 64)}".`)),
    })
  })

/** Local compute as a layer; its scope owns the child processes. */
export const localComputeLayer = (options: LocalComputeOptions) => Layer.effect(Compute, makeLocalCompute(options))

/** From the environment: DATA_DIR (default .data). */
export const LocalComputeLive = Layer.unwrap(
  Effect.gen(function* () {
    const dataDir = yield* DataDir
    return localComputeLayer({ dataDir })
  }),
)
