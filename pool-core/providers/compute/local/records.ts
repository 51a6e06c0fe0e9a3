// The record local compute keeps in each instance's state dir (instance.json, mode 600): which process runs it, on
// which port, and what it needs to be started again from its state after a manager restart (its token and the
// spec's env, like a Railway service keeps its variables). Nothing here is new to the agent: it has both in its env.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { join } from "node:path"

export interface InstanceRecord {
  readonly instanceId: string
  readonly pid: number
  readonly port: number
  readonly startedAt: string
  /** What `create` was given; absent in records written before restarts were supported (those stay stopped). */
  readonly instanceToken?: string
  readonly env?: Readonly<Record<string, string>>
  /** Set when the manager stopped the process on shutdown: the next start brings it back. */
  readonly stoppedAt?: string
  /**
   * Set when the process ended on its own while a manager watched it (a crash): the pool sees it failed and decides
   * (crashed, then release or kill); a restart does not bring it back behind the pool's back.
   */
  readonly exitedAt?: string
  readonly exitCode?: number | null
}

export const recordPath = (stateDir: string) => join(stateDir, "instance.json")

export const readRecord = (stateDir: string): InstanceRecord | null => {
  try {
    return JSON.parse(readFileSync(recordPath(stateDir), "utf8")) as InstanceRecord
  } catch {
    return null
  }
}

/** Atomic write (a crash mid-write never leaves half a record); a no-op when the state dir is gone (destroyed). */
export const writeRecord = (stateDir: string, record: InstanceRecord): void => {
  if (!existsSync(stateDir)) return
  const tmp = `${recordPath(stateDir)}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(record), { mode: 0o600 })
  renameSync(tmp, recordPath(stateDir))
}

/** Whether a start should bring this stopped instance back: it has what a spawn needs and did not crash on its own. */
export const resumable = (record: InstanceRecord): record is InstanceRecord & { readonly instanceToken: string } =>
  typeof record.instanceToken === "string" && record.instanceToken.length > 0 && record.exitedAt === undefined
