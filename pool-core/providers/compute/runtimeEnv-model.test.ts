import { describe, expect, it } from "vitest"
import { buildRuntimeBootEnv, modelSourceLine } from "./runtimeEnv.ts"
import { InvalidConfig } from "../../domain/errors.ts"

// A model server of the operator's (MODEL_BASE_URL, MODEL, MODEL_API_KEY) reaches every agent's boot env, and
// `npm start` says which model source agents will use.

const input = {
  xmtpEnv: null,
  devnetUrl: "http://127.0.0.1:5555",
  openrouterBaseUrl: null,
  primaryModel: null,
  inviteBaseUrl: null,
  xmtpApiUrl: null,
  servicesUrl: null,
}

describe("model endpoint in the agents' boot env", () => {
  it("passes MODEL_BASE_URL and MODEL, and MODEL_API_KEY only when set", () => {
    const env = buildRuntimeBootEnv({
      ...input,
      modelEndpoint: { baseUrl: "http://127.0.0.1:11434/v1/", model: "llama3.2", apiKey: null },
    })
    expect(env).toMatchObject({ MODEL_BASE_URL: "http://127.0.0.1:11434/v1", MODEL: "llama3.2" })
    expect(env.MODEL_API_KEY).toBeUndefined()
    expect(
      buildRuntimeBootEnv({ ...input, modelEndpoint: { baseUrl: "http://m.example/v1", model: "m", apiKey: "k" } })
        .MODEL_API_KEY,
    ).toBe("k")
  })
  it("refuses an endpoint without a model id, or a base URL that is not http(s), naming the variable", () => {
    expect(() =>
      buildRuntimeBootEnv({
        ...input,
        modelEndpoint: { baseUrl: "http://127.0.0.1:11434/v1", model: null, apiKey: null },
      }),
    ).toThrow(InvalidConfig)
    expect(() =>
      buildRuntimeBootEnv({ ...input, modelEndpoint: { baseUrl: "127.0.0.1:11434", model: "m", apiKey: null } }),
    ).toThrow(/MODEL_BASE_URL must be/)
  })
  it("npm start names the model source: OpenRouter first, else the endpoint, else none with the fix", () => {
    const endpoint = { MODEL_BASE_URL: "http://127.0.0.1:11434/v1", MODEL: "llama3.2" }
    expect(modelSourceLine(true, endpoint)).toMatch(/^model: OpenRouter/)
    expect(modelSourceLine(false, endpoint)).toBe("model: llama3.2 at http://127.0.0.1:11434/v1 (no key)")
    expect(modelSourceLine(false, {})).toMatch(/none configured.*MODEL_BASE_URL/)
  })
})
