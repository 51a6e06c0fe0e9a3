import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ConfigProvider, Effect } from "effect"
import { describe, expect, it } from "vitest"
import { apiKeyEffect } from "../src/apiKey.ts"
import { httpSettings } from "../src/http.ts"

// HOST, PORT and POOL_API_KEY of `npm start` are read with effect Config: defaults when unset, and a bad value fails
// with a message that names the variable.

const withEnv = <A, E>(effect: Effect.Effect<A, E>, env: Record<string, string>) =>
  Effect.runPromise(
    Effect.result(effect.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))),
  )

describe("HTTP settings", () => {
  it("defaults to 127.0.0.1:8080 and takes valid values", async () => {
    expect(await withEnv(httpSettings, {})).toMatchObject({
      _tag: "Success",
      success: { host: "127.0.0.1", port: 8080 },
    })
    expect(await withEnv(httpSettings, { PORT: "0", HOST: "0.0.0.0" })).toMatchObject({
      success: { host: "0.0.0.0", port: 0 },
    })
    expect(await withEnv(httpSettings, { PORT: "65535", HOST: "::1" })).toMatchObject({
      success: { host: "::1", port: 65535 },
    })
    expect(await withEnv(httpSettings, { HOST: "agents.internal" })).toMatchObject({
      success: { host: "agents.internal" },
    })
  })

  it.each(["abc", "80.5", "-1", "65536", "8080x", "1e3"])("PORT=%s fails naming PORT", async (port) => {
    const r = await withEnv(httpSettings, { PORT: port })
    expect(r).toMatchObject({ _tag: "Failure", failure: { _tag: "InvalidConfig", variable: "PORT" } })
    expect(r._tag === "Failure" && r.failure.message).toContain(
      `PORT must be a TCP port number from 0 to 65535 (0 = any free port); got "${port}"`,
    )
  })

  it("TRUST_PROXY defaults to 0 (the socket is the client), takes a hop count, and fails naming itself otherwise", async () => {
    expect(await withEnv(httpSettings, {})).toMatchObject({ success: { trustProxy: 0 } })
    expect(await withEnv(httpSettings, { TRUST_PROXY: "2" })).toMatchObject({ success: { trustProxy: 2 } })
    for (const bad of ["yes", "-1", "11", "1.5"]) {
      expect(await withEnv(httpSettings, { TRUST_PROXY: bad }), bad).toMatchObject({
        _tag: "Failure",
        failure: { _tag: "InvalidConfig", variable: "TRUST_PROXY" },
      })
    }
  })

  it.each(["http://localhost", "local host", "a/b"])("HOST=%s fails naming HOST", async (host) => {
    const r = await withEnv(httpSettings, { HOST: host })
    expect(r).toMatchObject({ _tag: "Failure", failure: { _tag: "InvalidConfig", variable: "HOST" } })
    expect(r._tag === "Failure" && r.failure.message).toContain("HOST must be an address or host name to listen on")
  })
})

describe("POOL_API_KEY for npm start", () => {
  it("uses a set key, generates and keeps one under DATA_DIR when unset, and refuses a short one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "convos-apikey-"))
    try {
      expect(await withEnv(apiKeyEffect, { DATA_DIR: dir, POOL_API_KEY: "chosen-key-0123456789" })).toMatchObject({
        success: { key: "chosen-key-0123456789", generated: false },
      })
      const made = await withEnv(apiKeyEffect, { DATA_DIR: dir })
      expect(made).toMatchObject({ success: { generated: true, file: join(dir, "pool-api-key") } })
      const key = made._tag === "Success" ? made.success.key : ""
      expect(readFileSync(join(dir, "pool-api-key"), "utf8")).toBe(key)
      expect(await withEnv(apiKeyEffect, { DATA_DIR: dir })).toMatchObject({ success: { key, generated: true } })
      const bad = await withEnv(apiKeyEffect, { DATA_DIR: dir, POOL_API_KEY: "short" })
      expect(bad).toMatchObject({ _tag: "Failure", failure: { variable: "POOL_API_KEY" } })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
