// DATA_DIR holds the pool's secrets (pool-token-secret, pool-api-key, the manager's identity, the embedded database
// and its password, agents' state dirs with their provision-time keys). It and everything in it are for this user
// only: folders 0700, files without group/other bits. Fixed at start for a DATA_DIR made by an older version (or
// by hand), and kept so by a 077 umask in `npm start` (server/src/main.ts).
import { randomBytes } from "node:crypto"
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

/**
 * Creates `dataDir` (0700) if needed and removes group/other permissions from it and everything below it (symlinks
 * are not followed). Returns the paths it had to tighten.
 */
export const secureDataDir = (dataDir: string): ReadonlyArray<string> => {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const fixed: string[] = []
  const visit = (path: string) => {
    let stat: ReturnType<typeof lstatSync>
    try {
      stat = lstatSync(path)
    } catch {
      return // removed meanwhile
    }
    if (stat.isSymbolicLink()) return
    const mode = stat.mode & 0o7777
    const wanted = stat.isDirectory() ? 0o700 : mode & ~0o077
    if (mode !== wanted) {
      chmodSync(path, wanted)
      fixed.push(path)
    }
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name))
  }
  visit(dataDir)
  return fixed
}

export const EMBEDDED_DB_PASSWORD_FILE = "pglite-password"

/** The embedded database's password: generated once, kept in DATA_DIR/pglite-password (0600). */
export const embeddedDbPassword = (dataDir: string): string => {
  const file = join(dataDir, EMBEDDED_DB_PASSWORD_FILE)
  if (existsSync(file)) {
    chmodSync(file, 0o600)
    const kept = readFileSync(file, "utf8").trim()
    if (kept !== "") return kept
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const password = randomBytes(24).toString("hex")
  writeFileSync(file, password, { mode: 0o600 })
  chmodSync(file, 0o600)
  return password
}
