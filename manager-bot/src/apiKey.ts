import { randomBytes } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"

/** POOL_API_KEY, or (embedded default) one generated once and kept under DATA_DIR so the admin page works out of the box. */
export const loadApiKey = () => {
  const file = join(resolve(process.env.DATA_DIR ?? ".data"), "pool-api-key")
  if (process.env.POOL_API_KEY) return { key: process.env.POOL_API_KEY, generated: false, file }
  if (existsSync(file)) return { key: readFileSync(file, "utf8").trim(), generated: true, file }
  mkdirSync(resolve(process.env.DATA_DIR ?? ".data"), { recursive: true })
  const key = randomBytes(24).toString("base64url")
  writeFileSync(file, key, { mode: 0o600 })
  return { key, generated: true, file }
}
