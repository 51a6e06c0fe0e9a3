import { randomBytes } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { ConfigProvider, Effect } from "effect"
import { DataDir } from "@convos-agents/contract"
import { InvalidConfig } from "@convos-agents/pool-core"
import { configSync, loadPoolApiKey } from "@convos-agents/pool-core/api/config"

export interface ApiKey {
  readonly key: string
  /** true when the key was generated (POOL_API_KEY unset) and is kept in `file`. */
  readonly generated: boolean
  readonly file: string
}

const dataDir = DataDir.pipe(
  Effect.mapError(
    (e) => new InvalidConfig({ variable: "DATA_DIR", message: `DATA_DIR could not be read: ${e.message}.` }),
  ),
)

/**
 * POOL_API_KEY (effect Config; a bad value fails with InvalidConfig naming it), or, the embedded default, one generated
 * once and kept in $DATA_DIR/pool-api-key so the admin page works out of the box.
 */
export const apiKeyEffect: Effect.Effect<ApiKey, InvalidConfig> = Effect.gen(function* () {
  const dir = resolve(yield* dataDir)
  const file = join(dir, "pool-api-key")
  const configured = yield* loadPoolApiKey
  if (configured !== null) return { key: configured, generated: false, file }
  return yield* Effect.sync(() => {
    if (existsSync(file)) return { key: readFileSync(file, "utf8").trim(), generated: true, file }
    mkdirSync(dir, { recursive: true })
    const key = randomBytes(24).toString("base64url")
    writeFileSync(file, key, { mode: 0o600 })
    return { key, generated: true, file }
  })
})

/** apiKeyEffect run against `config` (npm start's settings); throws the InvalidConfig on a bad POOL_API_KEY. */
export const loadApiKey = (config: ConfigProvider.ConfigProvider): ApiKey =>
  configSync(apiKeyEffect.pipe(Effect.provideService(ConfigProvider.ConfigProvider, config)))
