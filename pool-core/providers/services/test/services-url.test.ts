// Where agents reach the pool's service API (POOL_SERVICES_URL in the boot env): POOL_PUBLIC_URL wins, then Railway's
// public domain of the pool, then the local server (HOST/PORT); remote compute is warned about a loopback URL.
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import { poolServicesUrl, remoteServicesProblem, runtimeBootEnv } from "../../compute/runtimeEnv.ts"
import { InvalidConfig } from "../../../domain/errors.ts"

const none = { publicUrl: null, railwayDomain: null, host: null, port: null }

describe("POOL_SERVICES_URL", () => {
  it("POOL_PUBLIC_URL, else RAILWAY_PUBLIC_DOMAIN, else HOST/PORT (a wildcard host on loopback); PORT=0 gives none", () => {
    expect(
      poolServicesUrl({ ...none, publicUrl: "https://pool.example.com/", railwayDomain: "x.up.railway.app" }),
    ).toBe("https://pool.example.com")
    expect(poolServicesUrl({ ...none, railwayDomain: "pool-production.up.railway.app" })).toBe(
      "https://pool-production.up.railway.app",
    )
    expect(poolServicesUrl(none)).toBe("http://127.0.0.1:8080")
    expect(poolServicesUrl({ ...none, host: "0.0.0.0", port: "18200" })).toBe("http://127.0.0.1:18200")
    expect(poolServicesUrl({ ...none, host: "::1", port: "9000" })).toBe("http://[::1]:9000")
    expect(poolServicesUrl({ ...none, port: "0" })).toBeNull()
    expect(() => poolServicesUrl({ ...none, publicUrl: "pool.example.com" })).toThrow(InvalidConfig)
  })

  it.effect("is in the boot env every compute layer passes, read from config", () =>
    Effect.gen(function* () {
      const env = yield* runtimeBootEnv().pipe(
        Effect.provide(
          ConfigProvider.layer(
            ConfigProvider.fromUnknown({
              POOL_PUBLIC_URL: "https://pool.example.com",
              TELNYX_API_KEY: "KEY-must-not-pass",
            }),
          ),
        ),
      )
      expect(env.POOL_SERVICES_URL).toBe("https://pool.example.com")
      expect(JSON.stringify(env)).not.toContain("KEY-must-not-pass")
    }),
  )

  it("remote compute with a loopback or missing URL gets a warning that says what to set", () => {
    expect(remoteServicesProblem({ POOL_SERVICES_URL: "https://pool.example.com" }, "Railway")).toBeNull()
    expect(remoteServicesProblem({ POOL_SERVICES_URL: "http://127.0.0.1:8080" }, "Railway")).toContain(
      "POOL_PUBLIC_URL",
    )
    expect(remoteServicesProblem({}, "Railway")).toContain("set POOL_PUBLIC_URL")
  })
})
