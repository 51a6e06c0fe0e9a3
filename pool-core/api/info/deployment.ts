import { execFile } from "node:child_process"
import { readFile } from "node:fs/promises"
import { Effect, Option } from "effect"
import { optionalSecret, optionalString, providerEnvironment, readConfig } from "../../providers/http/env.ts"

// What GET /api/pool/info tells anyone about this deployment (the seed's {environment, branch, model,
// railwayServiceId}): which environment, which build, which model agents think with, and where agents run. Only
// identifiers that are already visible to whoever can see the deployment: never a token, key or model server URL.

export const DEFAULT_OPENROUTER_MODEL = "anthropic/claude-sonnet-4-6"

export interface DeploymentInfo {
  /** POOL_ENVIRONMENT (or its default: the Railway environment name on Railway, "local" otherwise). */
  readonly environment: string
  /** The repository's package version. */
  readonly version: string
  /** The git commit this build is from: GIT_COMMIT, Railway's RAILWAY_GIT_COMMIT_SHA, or the checkout's HEAD; null when none says. */
  readonly commit: string | null
  /** The branch, when the platform says (RAILWAY_GIT_BRANCH); null otherwise. */
  readonly branch: string | null
  /** Which model agents use: OpenRouter (per-agent keys), an operator's OpenAI-compatible server, or none. */
  readonly model: { readonly source: "openrouter" | "model-server" | "none"; readonly id: string | null }
  /** Where agents run: Railway ids (not secret: they name, they do not grant) or the local machine. */
  readonly compute:
    | {
        readonly provider: "railway"
        readonly teamId: string | null
        readonly projectId: string | null
        readonly environmentId: string | null
        readonly serviceId: string | null
      }
    | { readonly provider: "local" }
}

const repoRoot = new URL("../../../", import.meta.url)

const packageVersion = Effect.tryPromise(() => readFile(new URL("package.json", repoRoot), "utf8")).pipe(
  Effect.map((text) => String((JSON.parse(text) as { version?: unknown }).version ?? "unknown")),
  Effect.orElseSucceed(() => "unknown"),
)

/** HEAD of the checkout the code runs from; null outside a git checkout (a container image without .git). */
const checkoutCommit = Effect.callback<string | null>((resume) => {
  execFile("git", ["rev-parse", "HEAD"], { cwd: repoRoot, timeout: 5_000 }, (error, stdout) => {
    const sha = stdout.trim()
    resume(Effect.succeed(error === null && /^[0-9a-f]{40}$/.test(sha) ? sha : null))
  })
})

const read = (name: string) => readConfig(optionalString(name)).pipe(Effect.map(Option.getOrNull))
const isSet = (name: string) => readConfig(optionalSecret(name)).pipe(Effect.map(Option.isSome))

/**
 * Reads the deployment's description from config (env vars) once; see DeploymentInfo for each field. `npm start` has
 * checked these settings before serving (an InvalidConfig stops it), so one here is a defect.
 */
export const loadDeploymentInfo: Effect.Effect<DeploymentInfo, never> = Effect.gen(function* () {
  const environment = yield* providerEnvironment
  const commit = (yield* read("GIT_COMMIT")) ?? (yield* read("RAILWAY_GIT_COMMIT_SHA")) ?? (yield* checkoutCommit)
  const openRouter = yield* isSet("OPENROUTER_MANAGEMENT_KEY")
  const modelServer = yield* read("MODEL_BASE_URL")
  const model: DeploymentInfo["model"] = openRouter
    ? { source: "openrouter", id: (yield* read("OPENCLAW_PRIMARY_MODEL")) ?? DEFAULT_OPENROUTER_MODEL }
    : modelServer
      ? { source: "model-server", id: yield* read("MODEL") }
      : { source: "none", id: null }
  const railway = (yield* Effect.forEach(["RAILWAY_API_TOKEN", "RAILWAY_API_TOKENS", "RAILWAY_TOKEN"], isSet)).some(
    (b) => b,
  )
  const compute: DeploymentInfo["compute"] = railway
    ? {
        provider: "railway",
        teamId: yield* read("RAILWAY_TEAM_ID"),
        projectId: yield* read("RAILWAY_PROJECT_ID"),
        environmentId: yield* read("RAILWAY_ENVIRONMENT_ID"),
        serviceId: yield* read("RAILWAY_SERVICE_ID"),
      }
    : { provider: "local" }
  return {
    environment,
    version: yield* packageVersion,
    commit,
    branch: yield* read("RAILWAY_GIT_BRANCH"),
    model,
    compute,
  }
}).pipe(Effect.orDie)
