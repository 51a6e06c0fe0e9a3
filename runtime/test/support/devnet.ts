// A devnet server on a free loopback port with a temp data dir, for runtime tests and the bench.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startDevnetServer } from "@convos-agents/messaging"

export const startTestDevnet = async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "runtime-devnet-"))
  const devnet = await startDevnetServer({ port: 0, dataDir })
  return {
    url: devnet.url,
    close: async () => {
      await devnet.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
