import { railwayConfigured } from "../railway/settings.ts"

// Which compute runs the agents: COMPUTE=local|railway|docker when set; else Railway when a Railway token is set
// (RAILWAY_API_TOKEN, RAILWAY_API_TOKENS or RAILWAY_TOKEN), else local agent processes. Read once at start.

export type ComputeChoice = "local" | "railway" | "docker"
const CHOICES: ReadonlyArray<ComputeChoice> = ["local", "railway", "docker"]

/** The compute of this environment; throws an Error naming COMPUTE and its values for anything else. */
export const computeChoice = (env: Readonly<Record<string, string | undefined>>): ComputeChoice => {
  const raw = (env.COMPUTE ?? "").trim().toLowerCase()
  if (raw === "") return railwayConfigured(env) ? "railway" : "local"
  if ((CHOICES as ReadonlyArray<string>).includes(raw)) return raw as ComputeChoice
  throw new Error(
    `COMPUTE must be one of ${CHOICES.join(", ")} (got "${env.COMPUTE}"); leave it unset for Railway when a Railway token is set, else local agent processes.`,
  )
}

/** One line for `npm start`. */
export const describeCompute = (choice: ComputeChoice, env: Readonly<Record<string, string | undefined>>): string =>
  choice === "railway"
    ? "Railway"
    : choice === "docker"
      ? `Docker containers from ${env.DOCKER_RUNTIME_IMAGE || "convos-agent-runtime:latest"} on ${env.DOCKER_HOST || "unix:///var/run/docker.sock"} (COMPUTE=docker)`
      : "local OpenClaw agent processes (set RAILWAY_API_TOKEN for Railway, or COMPUTE=docker)"
