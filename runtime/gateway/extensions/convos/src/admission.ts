// OpenClaw's gateway work admission (openclaw 2026.9.6, dist/gateway-work-admission-*.mjs): every HTTP request to a
// plugin route runs as one "root work" held in an AsyncLocalStorage (`currentRootWork`), released when the response
// ends. Work that the request starts and that outlives it (a timer, a socket's callbacks, a stream) still carries that
// root in its async context, and once the root is released OpenClaw refuses it: its command queue rejects every task
// with GatewayDrainingError ("Gateway is draining; new tasks are not accepted") although the gateway is not draining.
//
// That is what broke the turns of a conversation made by POST /convos/conversation: its new identity's message stream
// is opened inside that request, so each message of it reached the agent in the released request's context. OpenClaw
// has the cure for its own process-lifetime work (`runOutsideGatewayRootWorkAdmission`: `currentRootWork.exit(run)`)
// but no plugin SDK export of it, so the plugin reaches the same AsyncLocalStorage through its process-wide singleton
// (`Symbol.for("openclaw.gatewayWorkAdmissionState")`, resolveGlobalSingleton on globalThis) and does the same.
import type { AsyncLocalStorage } from "node:async_hooks"

export const ADMISSION_STATE = Symbol.for("openclaw.gatewayWorkAdmissionState")

interface AdmissionState {
  readonly currentRootWork?: AsyncLocalStorage<unknown>
}

let warned = false

/**
 * Runs `run` outside any request's root work, as OpenClaw runs its own process-lifetime work: an agent turn is started
 * by a message, never by the HTTP request that happened to open the stream it came on. `warn` is called (once per
 * process) when OpenClaw's admission state is not where 2026.9.6 keeps it, so an upgrade that moves it is seen in
 * the log rather than only as turns failing again.
 */
export const outsideRequestWork = <T>(run: () => T, warn: (line: string) => void = () => {}): T => {
  const state = (globalThis as Record<symbol, AdmissionState | undefined>)[ADMISSION_STATE]
  const storage = state?.currentRootWork
  if (!storage || typeof storage.exit !== "function") {
    if (!warned)
      warn(
        "OpenClaw's gateway work admission state was not found (openclaw.gatewayWorkAdmissionState): agent turns run in the context of whatever started them",
      )
    warned = true
    return run()
  }
  return storage.exit(run)
}
