// OS-level helpers for local runtime processes: free ports, liveness, identity of a pid, group kill.
import { readFileSync } from "node:fs"
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

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** True when `pid` is a runtime we started for `instanceId` (its command line carries `--instance <id>`). */
export const isOurRuntime = (pid: number, instanceId: string): boolean => {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
    const i = argv.indexOf("--instance")
    return argv.some((a) => a.endsWith("runtime/src/cli.ts")) && i >= 0 && argv[i + 1] === instanceId
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
