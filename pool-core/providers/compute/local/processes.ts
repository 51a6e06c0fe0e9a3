// OS-level helpers for local runtime processes: free ports, liveness, identity of a pid, group kill.
import { readdirSync, readFileSync } from "node:fs"
import { createServer, connect } from "node:net"

/** A free loopback port (bind to 0, read it, release it). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** Whether `port` can be bound on loopback right now (a restarted instance keeps its URL when its port is still free). */
export const portFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer()
    server.once("error", () => resolve(false))
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)))
  })

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * True when `pid` is a runtime we started for `instanceId`: its environment carries INSTANCE_ID=<id>. (The runtime
 * CLI replaces itself with the OpenClaw gateway, which renames its process, so the command line says nothing.)
 */
export const isOurRuntime = (pid: number, instanceId: string): boolean => {
  try {
    return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`INSTANCE_ID=${instanceId}`)
  } catch {
    return false
  }
}

export const portAccepts = (port: number, timeoutMs = 500): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
  })

/** Signals the whole process group (the runtime CLI and the gateway it spawned); falls back to the pid alone. */
export const signalGroup = (pid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(-pid, signal)
  } catch {
    try {
      process.kill(pid, signal)
    } catch {}
  }
}

// Waits for real OS processes to exit, on the wall clock: under TestClock an Effect Clock deadline would never pass
// while these sleeps are real timers.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** SIGTERM, wait up to `graceMs` for the process to exit, then SIGKILL the group. */
export const terminate = async (pid: number, graceMs: number): Promise<void> => {
  if (!isAlive(pid)) return
  signalGroup(pid, "SIGTERM")
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return
    await sleep(100)
  }
  signalGroup(pid, "SIGKILL")
  for (let i = 0; i < 20 && isAlive(pid); i++) await sleep(100)
}

// --- process groups ------------------------------------------------------------------------------------------------
// A runtime is spawned detached, so it leads its own process group (pgid = its pid); the CLI becomes the OpenClaw
// gateway (same pid) and the gateway's helper processes are in that group too. The leader can die while a helper
// lives on, so stopping an instance means stopping its group, whether or not the leader is still alive. A pgid can
// be reused by an unrelated group once ours is gone: a member is signalled only after /proc shows it is one of ours
// (its environment names the instance's state dir).

/** Pids whose process group is `pgid`, from /proc/<pid>/stat (field 5, after the parenthesised command name). */
export const groupMembers = (pgid: number): number[] => {
  const out: number[] = []
  let entries: string[] = []
  try {
    entries = readdirSync("/proc")
  } catch {
    return out
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      // fields: state ppid pgrp …; a zombie has exited already
      if (Number(fields[2]) === pgid && fields[0] !== "Z") out.push(Number(name))
    } catch {
      /* gone meanwhile */
    }
  }
  return out
}

/** True when the process's environment has OPENCLAW_STATE_DIR=<stateDir> (what local compute gives every runtime). */
export const belongsTo = (pid: number, stateDir: string): boolean => {
  try {
    return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`OPENCLAW_STATE_DIR=${stateDir}`)
  } catch {
    return false
  }
}

/** Members of group `pgid` verified (by /proc) to belong to the instance whose state dir is `stateDir`. */
export const ownedGroupMembers = (pgid: number, stateDir: string): number[] =>
  groupMembers(pgid).filter((pid) => belongsTo(pid, stateDir))

const signalOwned = (pgid: number, stateDir: string, signal: NodeJS.Signals): number[] => {
  const all = groupMembers(pgid)
  const owned = all.filter((pid) => belongsTo(pid, stateDir))
  if (owned.length === 0) return owned
  if (owned.length === all.length) {
    try {
      process.kill(-pgid, signal) // the whole group is ours: one signal, no race with a member forking
      return owned
    } catch {}
  }
  for (const pid of owned) {
    try {
      process.kill(pid, signal)
    } catch {}
  }
  return owned
}

/**
 * Stops every process of the instance's group (verified by /proc), alive CLI or not: SIGTERM, wait up to `graceMs`
 * for all of them to exit, then SIGKILL what is left. Returns how many processes it found.
 */
export const terminateGroup = async (pgid: number, stateDir: string, graceMs: number): Promise<number> => {
  const found = signalOwned(pgid, stateDir, "SIGTERM").length
  if (found === 0) return 0
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline && ownedGroupMembers(pgid, stateDir).length > 0) await sleep(100)
  if (ownedGroupMembers(pgid, stateDir).length > 0) {
    signalOwned(pgid, stateDir, "SIGKILL")
    for (let i = 0; i < 20 && ownedGroupMembers(pgid, stateDir).length > 0; i++) await sleep(100)
  }
  // An exited leader that is our own child stays a zombie until Node reaps it (moments later): wait for that, so a
  // caller that checks the pid sees it gone. Waiting only; nothing is signalled here.
  for (let i = 0; i < 20 && isAlive(pgid); i++) await sleep(50)
  return found
}
