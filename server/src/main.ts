// `npm start`: the whole system on the embedded defaults (or production settings from the environment), with progress.
// Ctrl-C (SIGINT) or SIGTERM stops everything: the bot, the tick, agent processes (their state is kept: the next start
// brings them back), the HTTP server, devnet, database.
import { Cause, Config, ConfigProvider, Effect, Exit, Fiber, Layer, ManagedRuntime, Option } from "effect"
import { resolve } from "node:path"
import { DataDir } from "@convos-agents/contract"
import { configProblem, configProblemLine, DatabaseInfo, EXIT_CONFIG } from "@convos-agents/pool-core"
import { secureDataDir } from "@convos-agents/pool-core/db/data-dir"
import { Messaging } from "@convos-agents/messaging"
import { ManagerBot } from "@convos-agents/manager-bot"
import { AppLayer, describeParts } from "./compose.ts"
import { loadApiKey } from "./apiKey.ts"
import { printInvite } from "./qr.ts"
import { modelSourceLine, runtimeBootEnv } from "@convos-agents/pool-core/compute/runtime-env"
import { httpSettings, startHttp } from "./http.ts"
import { warmupProgress } from "./warmup.ts"

const log = (line: string) => console.log(`[start] ${line}`)

// A closed terminal or pipe (`npm start | tee log`, then Ctrl-C kills tee first) must not crash the shutdown that
// stops the agent processes: writes to a gone stdout/stderr are dropped.
for (const stream of [process.stdout, process.stderr])
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e
  })

/**
 * What start reads before anything runs: the HTTP settings, the resolved DATA_DIR, and the settings it derives for the
 * system (`derived`: on devnet, invite links open the web catalog's browser chat view, as there is no phone app for the
 * devnet). The agents' boot env is read too, only to fail early on a bad value.
 */
const startSettings = Effect.gen(function* () {
  const http = yield* httpSettings
  yield* runtimeBootEnv()
  const dataDir = resolve(yield* DataDir)
  const set = (name: string) =>
    Config.option(Config.String(name)).pipe(Effect.map((v) => Option.isSome(v) && v.value !== ""))
  const derived: Record<string, string> =
    !(yield* set("XMTP_ENV")) && !(yield* set("CONVOS_INVITE_BASE_URL")) && http.port !== 0
      ? { CONVOS_INVITE_BASE_URL: `http://127.0.0.1:${http.port}/v2?i=` }
      : {}
  return { http, dataDir, derived }
})

const main = async () => {
  log("starting Convos agents…")
  // DATA_DIR holds every secret of the system: owner-only, including what this process and its agents create later.
  process.umask(0o077)
  // The settings are read once, here, through Config from the environment: HOST/PORT, DATA_DIR and the agents' boot
  // env (XMTP_ENV, MODEL_BASE_URL, POOL_PUBLIC_URL…). A bad value stops here in one line naming the variable, with
  // EX_CONFIG, before anything is started.
  const env = { ...process.env } as Record<string, string>
  const settings = await Effect.runPromiseExit(
    startSettings.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))),
  )
  if (Exit.isFailure(settings)) {
    const problem = configProblem(settings.cause)
    console.error(
      `[start] ${Option.match(problem, { onSome: configProblemLine, onNone: () => `could not start: ${String(Cause.squash(settings.cause))}` })}`,
    )
    process.exit(Option.isSome(problem) ? EXIT_CONFIG : 1)
  }
  const { http: httpConfig, dataDir, derived } = settings.value
  const tightened = secureDataDir(dataDir)
  if (tightened.length > 0)
    log(`DATA_DIR: made ${tightened.length} file(s) and folder(s) owner-only (0700 folders, no group/other access)`)
  // The system reads its Config from the environment plus what start derived (never written into process.env).
  const config = ConfigProvider.fromEnv({ env: { ...env, ...derived } })
  // COMPUTE names a compute that exists (else one line, like the settings above), read through the same Config.
  const parts = await Effect.runPromiseExit(
    describeParts.pipe(Effect.provideService(ConfigProvider.ConfigProvider, config)),
  )
  if (Exit.isFailure(parts)) {
    const problem = configProblem(parts.cause)
    console.error(
      `[start] ${Option.match(problem, { onSome: configProblemLine, onNone: () => `could not start: ${String(Cause.squash(parts.cause))}` })}`,
    )
    process.exit(Option.isSome(problem) ? EXIT_CONFIG : 1)
  }
  const { compute, lines } = parts.value
  for (const part of lines) log(part)
  const runtime = ManagedRuntime.make(AppLayer().pipe(Layer.provideMerge(ConfigProvider.layer(config))))
  let stopping = false
  let warmup: Fiber.Fiber<void, unknown> | undefined
  const stop = async (code: number) => {
    if (stopping) return
    stopping = true
    log("stopping…")
    // A last resort only: local agents get up to 10 s each (in parallel) to stop before SIGKILL, and their records must
    // be marked stopped so the next start brings them back, so this waits well beyond that.
    setTimeout(() => {
      console.error(
        "[start] stopping took more than 45 s; exiting anyway (agents still running are re-adopted by the next start)",
      )
      process.exit(code || 1)
    }, 45_000).unref()
    if (warmup) await Effect.runPromise(Fiber.interrupt(warmup))
    await http?.close().catch(() => undefined)
    await runtime.dispose()
    log("stopped")
    process.exit(code)
  }
  process.once("SIGINT", () => void stop(0))
  process.once("SIGTERM", () => void stop(0))
  let http: { close: () => Promise<void>; url: string } | undefined
  try {
    const started = await runtime.runPromiseExit(
      Effect.gen(function* () {
        return { db: yield* DatabaseInfo, network: (yield* Messaging).network, bot: yield* ManagerBot }
      }),
    )
    if (Exit.isFailure(started)) {
      // A setting to fix: one line naming the variable, and EX_CONFIG so a supervisor does not just restart it.
      const problem = configProblem(started.cause)
      if (Option.isSome(problem)) {
        console.error(`[start] ${configProblemLine(problem.value)}`)
        return await stop(EXIT_CONFIG)
      }
      throw Cause.squash(started.cause)
    }
    const { db, network, bot } = started.value
    log(`database: ${db.location}`)
    log(`messaging: ${network}`)
    log(modelSourceLine(!!env.OPENROUTER_MANAGEMENT_KEY, env))
    const apiKey = loadApiKey(config)
    http = await startHttp(runtime, { ...bot, network, compute }, apiKey.key, httpConfig)
    if (apiKey.generated)
      log(`pool API key (generated, kept in ${apiKey.file}; set POOL_API_KEY to choose one): ${apiKey.key}`)
    log(`web catalog and pool API: ${http.url} (admin: ${http.url}/admin)`)
    printInvite(
      "Manager bot invite (open it in Convos, or: npm run chat -- --invite <link> --name You)",
      bot.inviteUrl(),
      dataDir,
    )
    log(`ops chat invite (admins only): ${bot.opsInviteUrl}`)
    if (bot.localOperatorInboxId)
      log(
        `ops chat as the local operator (devnet only; kept in DATA_DIR/operator.json): npm run chat -- --ops (inbox ${bot.localOperatorInboxId.slice(0, 8)}…)`,
      )
    log("ready. Ctrl-C stops everything.")
    // While the agents warm: "agents: 1/2 ready, ~20 s", one line when the pool is at its target, then quiet.
    warmup = runtime.runFork(warmupProgress(log))
  } catch (e) {
    // POOL_API_KEY is read synchronously (loadApiKey): its InvalidConfig arrives here as a thrown error.
    const problem = configProblem(Cause.die(e))
    console.error(
      `[start] ${Option.match(problem, { onSome: configProblemLine, onNone: () => `could not start: ${e instanceof Error ? e.message : String(e)}` })}`,
    )
    await stop(Option.isSome(problem) ? EXIT_CONFIG : 1)
  }
}

void main()
