import { agentNameForDisplay, type PoolEvent } from "@convos-agents/pool-core"

/** An ops alert: its kind (what the rate limit counts), what it is about (listed in a summary), and its text. */
export interface Alert {
  readonly kind: string
  readonly subject: string
  readonly text: string
  /**
   * Always posted, never held: the create circuit's open/close alerts. The circuit already limits them (one per
   * outage and one when it ends, with pauses in between), and a held "resumed" would read as another failure.
   */
  readonly always?: boolean
}

const short = (id: string) => id.slice(0, 8)

/** The ops alert for a supervised loop that stopped and is being restarted (pool-core/supervision). */
export const restartAlert = (loop: string, message: string): Alert => ({
  kind: `restart:${loop}`,
  subject: message,
  text: `⚠️ ${message}`,
})
const duration = (ms: number) => {
  const s = Math.round(ms / 1000)
  if (s < 90) return `${s} s`
  const m = Math.round(s / 60)
  return m < 90 ? `${m} min` : `${Math.round((m / 60) * 10) / 10} h`
}

/** The ops alert for a pool event, or null for events that are not alerts. */
export const alertText = (e: PoolEvent): Alert | null => {
  switch (e._tag) {
    case "InstanceCrashed": {
      // One line whatever the stored name holds (a name from before the name rule could carry a line break).
      const name = agentNameForDisplay(e.agentName, "(unnamed)")
      return {
        kind: "crashed",
        subject: `${name} [${short(e.instanceId)}]`,
        text: `⚠️ Agent ${name} [${short(e.instanceId)}] crashed: ${e.reason}. /dismiss ${short(e.instanceId)} once its owner is told.`,
      }
    }
    case "ModelProblem": {
      const name = agentNameForDisplay(e.agentName, "(unnamed)")
      return {
        kind: `model:${e.kind}`,
        subject: `${name} [${short(e.instanceId)}]`,
        text: `⚠️ Agent ${name} [${short(e.instanceId)}] cannot think (${e.kind}${e.model ? `, model ${e.model}` : ""}): ${e.message}`,
      }
    }
    case "InstanceDead":
      return {
        kind: "dead",
        subject: short(e.instanceId),
        text: `⚠️ Instance ${short(e.instanceId)} is dead: ${e.reason}.`,
      }
    case "IdleBelowTarget":
      return {
        kind: "idle-below-target",
        subject: `${e.idle} idle, target ${e.target}`,
        text: `⚠️ Only ${e.idle} idle agent(s), target ${e.target}. The pool is starting more; /counts to watch.`,
      }
    case "ProviderFailing":
      return { kind: `provider:${e.provider}`, subject: e.message, text: `⚠️ ${e.provider} is failing: ${e.message}` }
    case "LoopFailing":
      return restartAlert(e.loop, e.message)
    case "ProviderCircuitOpened":
      return e.fault === "unauthorized"
        ? {
            kind: `circuit:${e.provider}`,
            subject: e.reason,
            always: true,
            text: `⛔ ${e.provider} refuses the pool's credentials (not authorized): a configuration fault. The pool creates nothing and marks no agent gone until it is fixed; check the ${e.provider} token and its permissions. (${e.reason})`,
          }
        : {
            kind: `circuit:${e.provider}`,
            subject: e.reason,
            always: true,
            text: `⛔ Creating agents on ${e.provider} is paused after a failure: ${e.reason}. One trial create in ${duration(e.retryInMs)}, then longer pauses while it keeps failing; running agents are not affected. /counts to watch.`,
          }
    case "ProviderCircuitClosed":
      return {
        kind: `circuit:${e.provider}`,
        subject: "resumed",
        always: true,
        text:
          e.fault === "unauthorized"
            ? `✅ ${e.provider} accepts the pool's credentials again after ${duration(e.pausedForMs)}; creating and checking agents resumed.`
            : `✅ Creating agents on ${e.provider} resumed: a trial instance became ready after ${duration(e.pausedForMs)} paused (${e.failures} failure(s)).`,
      }
    default:
      return null
  }
}

const listed = (subjects: ReadonlyArray<string>, count: number) =>
  subjects.join(", ") + (count > subjects.length ? ` and ${count - subjects.length} more` : "")

/** The one message standing for `count` alerts of a kind that were held back. */
export const summaryText = (kind: string, count: number, subjects: ReadonlyArray<string>, minutes: string): string => {
  if (kind === "crashed")
    return `⚠️ ${count} more crashed in the last ${minutes}: ${listed(subjects, count)}. /pool lists them; /dismiss <id> once their owners are told.`
  if (kind === "dead")
    return `⚠️ ${count} more instance(s) died in the last ${minutes}: ${listed(subjects, count)}. /pool lists them.`
  if (kind === "idle-below-target")
    return `⚠️ Still below target (${subjects[subjects.length - 1]}; ${count} more alert(s) in the last ${minutes}). /counts to watch.`
  if (kind.startsWith("restart:"))
    return `⚠️ ${kind.slice("restart:".length)} restarted ${count} more time(s) in the last ${minutes}; last: ${subjects[subjects.length - 1]}`
  if (kind.startsWith("model:"))
    return `⚠️ ${count} more agent(s) could not think (${kind.slice("model:".length)}) in the last ${minutes}: ${listed(subjects, count)}.`
  const provider = kind.replace(/^provider:/, "")
  return `⚠️ ${provider} failed ${count} more time(s) in the last ${minutes}; last error: ${subjects[subjects.length - 1]}`
}

interface Window {
  startedAt: number
  held: number
  subjects: string[]
}

export interface AlertLimiter {
  /** What to post now for this alert: itself when its kind was quiet for an interval, a summary, or nothing (held). */
  readonly offer: (alert: Alert, now: number) => ReadonlyArray<string>
  /** Summaries of the kinds whose interval ended with alerts held back; forgets kinds that went quiet. */
  readonly flush: (now: number) => ReadonlyArray<string>
  /** Kinds remembered (bounded by maxKinds). */
  readonly size: () => number
}

/**
 * At most one post per kind per interval: the first alert of a kind goes out, later ones in the interval are held and
 * counted, and when the interval ends they go out as one summary ("3 more crashed …"). The clock is passed in so it
 * can be tested. Memory is bounded: quiet kinds are forgotten on flush and at most `maxKinds` are remembered.
 */
export const makeAlertLimiter = (
  intervalMs: number,
  options: { readonly maxKinds?: number; readonly maxSubjects?: number } = {},
): AlertLimiter => {
  const maxKinds = options.maxKinds ?? 64
  const maxSubjects = options.maxSubjects ?? 10
  const windows = new Map<string, Window>()
  const minutes =
    intervalMs >= 60_000 ? `${Math.round(intervalMs / 60_000)} min` : `${Math.max(1, Math.round(intervalMs / 1000))} s`
  const open = (kind: string, now: number) => {
    windows.delete(kind)
    windows.set(kind, { startedAt: now, held: 0, subjects: [] })
  }
  const hold = (w: Window, alert: Alert) => {
    w.held++
    if (w.subjects.length < maxSubjects) w.subjects.push(alert.subject)
    else if (alert.kind.startsWith("provider:") || alert.kind === "idle-below-target")
      w.subjects[w.subjects.length - 1] = alert.subject // keep the latest
  }
  /** Closes the kind's window if its interval is over: a summary when something was held (it opens the next window). */
  const close = (kind: string, now: number, extra?: Alert): string[] => {
    const w = windows.get(kind)
    if (!w || now - w.startedAt < intervalMs) return []
    if (extra) hold(w, extra)
    if (w.held === 0) {
      windows.delete(kind)
      return []
    }
    open(kind, now)
    return [summaryText(kind, w.held, w.subjects, minutes)]
  }

  return {
    offer: (alert, now) => {
      if (alert.always) return [alert.text]
      const w = windows.get(alert.kind)
      if (w && now - w.startedAt < intervalMs) {
        hold(w, alert)
        return []
      }
      if (w && w.held > 0) return close(alert.kind, now, alert)
      const out: string[] = []
      if (!w && windows.size >= maxKinds) {
        const [oldest] = windows.keys()
        const evicted = windows.get(oldest!)!
        windows.delete(oldest!)
        if (evicted.held > 0) out.push(summaryText(oldest!, evicted.held, evicted.subjects, minutes))
      }
      open(alert.kind, now)
      out.push(alert.text)
      return out
    },
    flush: (now) => [...windows.keys()].flatMap((kind) => close(kind, now)),
    size: () => windows.size,
  }
}
