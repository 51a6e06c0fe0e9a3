import type { PoolEvent } from "@convos-agents/pool-core"

/** The text of an ops alert, or null for events that are not alerts. */
export const alertText = (e: PoolEvent): { readonly key: string; readonly text: string } | null => {
  switch (e._tag) {
    case "InstanceCrashed":
      return { key: `crashed:${e.instanceId}`, text: `⚠️ Agent ${e.agentName ?? ""} [${e.instanceId.slice(0, 8)}] crashed: ${e.reason}. /dismiss ${e.instanceId.slice(0, 8)} once its owner is told.` }
    case "InstanceDead":
      return { key: `dead:${e.instanceId}`, text: `⚠️ Instance ${e.instanceId.slice(0, 8)} is dead: ${e.reason}.` }
    case "IdleBelowTarget":
      return { key: "idle-below-target", text: `⚠️ Only ${e.idle} idle agent(s), target ${e.target}. The pool is starting more; /counts to watch.` }
    case "ProviderFailing":
      return { key: `provider:${e.provider}`, text: `⚠️ ${e.provider} is failing: ${e.message}` }
    default:
      return null
  }
}

/** Same alert at most once per interval (per key); the clock is passed in so it can be tested. */
export const makeAlertLimiter = (intervalMs: number) => {
  const last = new Map<string, number>()
  return (key: string, now: number): boolean => {
    const prev = last.get(key)
    if (prev !== undefined && now - prev < intervalMs) return false
    last.set(key, now)
    return true
  }
}
