// Config generation: openclaw.json is offline-safe and secret-free; the workspace carries the instructions where
// OpenClaw reads them; skills exist only while their key is present.
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { applyRuntime } from "../src/config/apply.ts"
import {
  AGENT_SERVICE_TOOLS,
  buildOpenClawConfig,
  DENIED_TOOLS,
  MODEL_PROVIDER_ID,
  SEARCH_PLUGIN_ID,
} from "../src/config/openclawConfig.ts"
import {
  describeSettings,
  formatSecretsEnv,
  openclawEntry,
  readSecretsEnv,
  SettingsError,
  settingsFromEnv,
} from "../src/config/settings.ts"
import {
  agentsMarkdown,
  BOOTSTRAP_MAX_CHARS,
  BOOTSTRAP_TOTAL_MAX_CHARS,
  identityMarkdown,
  MAX_AGENT_NAME_CHARS,
  MAX_INSTRUCTIONS_CHARS,
  MAX_TEMPLATE_SLUG_CHARS,
  readInstructions,
  soulMarkdown,
  writeWorkspace,
} from "../src/config/workspace.ts"
import { greetingFor, toolLines } from "../src/config/seedFiles.ts"
import { ProvisionBody } from "@convos-agents/contract"
import { decodeBody } from "../src/http/bodies.ts"
import { GATEWAY_NODE_FLAGS, gatewayArgs, gatewayEnv, seedCompileCache } from "../src/gateway.ts"

const dirs: string[] = []
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "runtime-config-"))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe("settings", () => {
  it("reads state dir, port, token and model from env, with defaults", () => {
    const s = settingsFromEnv({
      OPENCLAW_STATE_DIR: "/tmp/x",
      PORT: "4001",
      INSTANCE_TOKEN: "t",
      OPENCLAW_PRIMARY_MODEL: "openai/gpt-5",
    })
    expect(s).toMatchObject({
      stateDir: "/tmp/x",
      configPath: "/tmp/x/openclaw.json",
      workspaceDir: "/tmp/x/workspace",
      port: 4001,
      token: "t",
      model: "openai/gpt-5",
      openrouterBaseUrl: "https://openrouter.ai/api/v1",
    })
    expect(settingsFromEnv({ OPENCLAW_GATEWAY_TOKEN: "g" }).token).toBe("g")
    expect(() => settingsFromEnv({ PORT: "99999" })).toThrow(SettingsError)
  })

  it("never puts secrets in the log line", () => {
    const env = { INSTANCE_TOKEN: "tok-secret", OPENROUTER_API_KEY: "sk-secret", DEVNET_URL: "http://127.0.0.1:1" }
    const line = describeSettings(settingsFromEnv(env), env)
    expect(line).toContain("token=set")
    expect(line).toContain("openrouterKey=set")
    expect(line).not.toMatch(/tok-secret|sk-secret/)
  })

  it("round-trips provision-time secrets through <state>/.env and ignores invalid names", () => {
    const dir = tempDir()
    writeFileSync(join(dir, ".env"), formatSecretsEnv({ OPENROUTER_API_KEY: 'sk "quoted" = value', "bad-name": "x" }))
    expect(readSecretsEnv(dir)).toEqual({ OPENROUTER_API_KEY: 'sk "quoted" = value' })
  })
})

describe("openclaw.json", () => {
  const settings = settingsFromEnv({
    OPENCLAW_STATE_DIR: "/srv/agent",
    PORT: "18800",
    OPENCLAW_PRIMARY_MODEL: "anthropic/claude-sonnet-4-6",
  })

  it("is offline-safe: no update check, no catalog refresh, no web search, only our plugin + memory allowed, loopback", () => {
    const c = buildOpenClawConfig({ settings, hasModelKey: false, pluginDir: "/app/runtime/gateway/extensions/convos" })
    expect(c.update.checkOnStart).toBe(false)
    expect(c.models.catalogRefresh.enabled).toBe(false)
    expect(c.tools.web.search.enabled).toBe(false)
    expect(c.plugins.allow).toEqual(["convos", "memory-core"])
    expect(c.plugins.load.paths).toEqual(["/app/runtime/gateway/extensions/convos"])
    expect(c.gateway).toMatchObject({
      mode: "local",
      bind: "loopback",
      port: 18800,
      auth: { mode: "token", token: "${OPENCLAW_GATEWAY_TOKEN}" },
    })
    expect(c.agents.defaults).toMatchObject({
      workspace: "/srv/agent/workspace",
      skipBootstrap: true,
      heartbeat: { every: "0m" },
    })
    expect(c.channels.convos.enabled).toBe(true)
  })

  it("gives the agent a chat agent's tools only: no exec/process/automation/ui/nodes, fs inside the workspace, exec denied by policy", () => {
    const c = buildOpenClawConfig({ settings, hasModelKey: true })
    expect(c.tools.allow).toEqual([...AGENT_SERVICE_TOOLS, "memory_search", "memory_get", "read", "write", "edit"])
    for (const t of [
      "exec",
      "process",
      "code_execution",
      "apply_patch",
      "group:runtime",
      "group:automation",
      "group:nodes",
      "group:ui",
      "sessions_spawn",
      "sessions_send",
      "web_fetch",
    ]) {
      expect(c.tools.deny).toContain(t)
      expect(c.tools.allow).not.toContain(t)
    }
    expect(c.tools.deny).toEqual([...DENIED_TOOLS])
    expect(c.tools.fs).toEqual({ workspaceOnly: true })
    expect(c.tools.exec).toMatchObject({ security: "deny", ask: "off", applyPatch: { enabled: false } })
    expect(c.tools.elevated.enabled).toBe(false)
    expect(c.tools.agentToAgent.enabled).toBe(false)
    expect(c.tools.sessions.visibility).toBe("self")
    expect(c.gateway.controlUi.enabled).toBe(false)
    expect(JSON.stringify(c)).not.toMatch(/"(tools\.)?profile"/)
  })

  it("web search goes through OpenRouter only with a model key: OpenClaw's Perplexity plugin, key and base URL by reference", () => {
    for (const off of [
      buildOpenClawConfig({ settings, hasModelKey: true }),
      buildOpenClawConfig({ settings, hasModelKey: false, webSearch: true }),
    ]) {
      expect(off.tools.web.search).toEqual({ enabled: false })
      expect(off.tools.allow).not.toContain("web_search")
    }
    expect(buildOpenClawConfig({ settings, hasModelKey: true }).plugins.allow).toEqual(["convos", "memory-core"]) // not installed
    // Installed but no key yet: loaded (plugins load at start only; the key comes later, at provision), no config.
    const keyless = buildOpenClawConfig({
      settings,
      hasModelKey: false,
      webSearch: true,
      searchPluginDir: "/app/perplexity",
    }) as any
    expect(keyless.plugins.allow).toEqual(["convos", "memory-core", "perplexity"])
    expect(keyless.plugins.load.paths).toContain("/app/perplexity")
    expect(keyless.plugins.entries.perplexity).toEqual({ enabled: true })
    const c = buildOpenClawConfig({
      settings,
      hasModelKey: true,
      webSearch: true,
      pluginDir: "/app/convos",
      searchPluginDir: "/app/perplexity",
    }) as any
    expect(c.tools.web.search).toEqual({ enabled: true, provider: SEARCH_PLUGIN_ID })
    expect(c.tools.allow).toContain("web_search")
    expect(c.tools.web.fetch.enabled).toBe(false)
    expect(c.plugins.allow).toEqual(["convos", "memory-core", "perplexity"])
    expect(c.plugins.load.paths).toEqual(["/app/convos", "/app/perplexity"])
    expect(c.plugins.entries.perplexity).toEqual({
      enabled: true,
      config: {
        webSearch: { apiKey: "${OPENROUTER_API_KEY}", baseUrl: "${OPENROUTER_BASE_URL}", model: "perplexity/sonar" },
      },
    })
  })

  it("configures the OpenRouter provider only when a key exists, by reference, never inline", () => {
    expect("providers" in buildOpenClawConfig({ settings, hasModelKey: false }).models).toBe(false)
    const c = buildOpenClawConfig({ settings, hasModelKey: true }) as any
    const p = c.models.providers[MODEL_PROVIDER_ID]
    expect(p).toMatchObject({
      baseUrl: "${OPENROUTER_BASE_URL}",
      apiKey: "${OPENROUTER_API_KEY}",
      api: "openai-completions",
    })
    expect(p.models[0].id).toBe("anthropic/claude-sonnet-4-6")
    expect(c.agents.defaults.model.primary).toBe(`${MODEL_PROVIDER_ID}/anthropic/claude-sonnet-4-6`)
  })
})

describe("model id (OPENCLAW_PRIMARY_MODEL)", () => {
  it("accepts the seed's forms openrouter/<vendor>/<model> and <vendor>/<model>: OpenRouter gets <vendor>/<model>", () => {
    for (const raw of [
      "openrouter/anthropic/claude-sonnet-4-6",
      "anthropic/claude-sonnet-4-6",
      "  openrouter/anthropic/claude-sonnet-4-6 ",
    ]) {
      const s = settingsFromEnv({ OPENCLAW_STATE_DIR: "/srv/agent", OPENCLAW_PRIMARY_MODEL: raw })
      expect(s.model, raw).toBe("anthropic/claude-sonnet-4-6")
      const c = buildOpenClawConfig({ settings: s, hasModelKey: true }) as any
      expect(c.agents.defaults.model.primary, raw).toBe(`${MODEL_PROVIDER_ID}/anthropic/claude-sonnet-4-6`)
      expect(c.models.providers[MODEL_PROVIDER_ID].models[0].id, raw).toBe("anthropic/claude-sonnet-4-6")
    }
    // OpenRouter's own router models keep their prefix: "openrouter/auto" is the id OpenRouter expects
    expect(settingsFromEnv({ OPENCLAW_PRIMARY_MODEL: "openrouter/auto" }).model).toBe("openrouter/auto")
    expect(settingsFromEnv({ OPENCLAW_PRIMARY_MODEL: "openai/gpt-5" }).model).toBe("openai/gpt-5")
    expect(settingsFromEnv({ OPENCLAW_PRIMARY_MODEL: " " }).model).toBe("anthropic/claude-sonnet-4-6")
  })
})

describe("workspace", () => {
  it("writes the seed's files (AGENTS, SOUL, TOOLS, IDENTITY, HEARTBEAT, BOOT, USER) with the instructions under ## Custom Instructions", () => {
    const dir = tempDir()
    const written = writeWorkspace(dir, {
      agentName: "Chef",
      instructions: "Suggest vegetarian dinners.",
      templateSlug: "cook",
    })
    expect(written).toEqual(["AGENTS.md", "SOUL.md", "TOOLS.md", "IDENTITY.md", "HEARTBEAT.md", "BOOT.md", "USER.md"])
    const identity = readFileSync(join(dir, "IDENTITY.md"), "utf8")
    expect(identity).toContain("- **Name:** Chef")
    expect(identity).toContain("- **Template:** cook")
    expect(readInstructions(dir)).toBe("Suggest vegetarian dinners.")
    expect(readFileSync(join(dir, "AGENTS.md"), "utf8")).toContain("## Tools")
    expect(readFileSync(join(dir, "USER.md"), "utf8")).toContain("## Decisions")
  })

  it("TOOLS.md and AGENTS.md name exactly the tools the config lets the model call, services only while held", () => {
    const allowNames = (allow: ReadonlyArray<string>, held: Parameters<typeof toolLines>[1]) =>
      [
        ...new Set(
          toolLines(allow, held)
            .join("\n")
            .match(/`([a-z_]+)`/g)!
            .map((m) => m.slice(1, -1)),
        ),
      ].sort()
    const plain = buildOpenClawConfig({ settings: settingsFromEnv({}), hasModelKey: false, webSearch: false }).tools
      .allow
    expect(allowNames(plain, {})).toEqual(["edit", "memory_get", "memory_search", "read", "write"])
    const searching = buildOpenClawConfig({ settings: settingsFromEnv({}), hasModelKey: true, webSearch: true }).tools
      .allow
    const held = {
      email: { address: "a@agentmail.to" },
      phone: { number: "+15550001111" },
      wallet: { address: "0xabc" },
    }
    // Every allowed tool is described (the service tools only because all three services are held).
    expect(allowNames(searching, held)).toEqual([...searching].sort())
    expect(allowNames(searching, { wallet: { address: "0xabc" } })).not.toContain("send_email")
    const dir = tempDir()
    writeWorkspace(dir, { agentName: "Chef", instructions: "" }, toolLines(plain, {}))
    const tools = readFileSync(join(dir, "TOOLS.md"), "utf8")
    for (const denied of [
      "exec",
      "browser",
      "web_fetch",
      "cron",
      "web_search",
      "send_email",
      "send_sms",
      "wallet_address",
    ])
      expect(tools).not.toContain(`\`${denied}\``)
    expect(readFileSync(join(dir, "AGENTS.md"), "utf8")).toContain(toolLines(plain, {})[0])
  })

  it("HEARTBEAT.md: heartbeats off (config every 0m) unless AGENT_HEARTBEAT_EVERY sets a cadence; a bad value names the variable", () => {
    const dir = tempDir()
    const off = settingsFromEnv({})
    writeWorkspace(dir, { agentName: "Chef", instructions: "" }, [], off.heartbeatEvery)
    expect(buildOpenClawConfig({ settings: off, hasModelKey: false }).agents.defaults.heartbeat).toEqual({
      every: "0m",
    })
    expect(readFileSync(join(dir, "HEARTBEAT.md"), "utf8")).toContain("Heartbeats are off")
    const on = settingsFromEnv({ AGENT_HEARTBEAT_EVERY: "30m" })
    writeWorkspace(dir, { agentName: "Chef", instructions: "" }, [], on.heartbeatEvery)
    expect(buildOpenClawConfig({ settings: on, hasModelKey: false }).agents.defaults.heartbeat).toEqual({
      every: "30m",
    })
    expect(readFileSync(join(dir, "HEARTBEAT.md"), "utf8")).toContain("every 30m")
    expect(readFileSync(join(dir, "AGENTS.md"), "utf8")).toContain("HEARTBEAT_OK")
    expect(() => settingsFromEnv({ AGENT_HEARTBEAT_EVERY: "often" })).toThrow(/AGENT_HEARTBEAT_EVERY/)
  })

  it("BOOT.md holds the greeting: the default follows renames, an edited one is kept and posted; USER.md notes are never overwritten", () => {
    const dir = tempDir()
    writeWorkspace(dir, { agentName: "Chef", instructions: "" })
    expect(greetingFor(dir, "Chef")).toMatch(/^Hi, I'm Chef! /)
    writeWorkspace(dir, { agentName: "Cook", instructions: "" })
    expect(readFileSync(join(dir, "BOOT.md"), "utf8")).toContain("Hi, I'm Cook!")
    writeFileSync(
      join(dir, "BOOT.md"),
      readFileSync(join(dir, "BOOT.md"), "utf8").replace(/Hi, I'm Cook!.*/, "Bonjour! Je cuisine pour vous."),
    )
    writeFileSync(join(dir, "USER.md"), "# USER.md\n\n- 2026-12-04: Ada is vegetarian.\n")
    writeWorkspace(dir, { agentName: "Chef", instructions: "" })
    expect(greetingFor(dir, "Chef")).toBe("Bonjour! Je cuisine pour vous.")
    expect(readFileSync(join(dir, "USER.md"), "utf8")).toContain("Ada is vegetarian")
  })

  it("the longest profile the HTTP contract accepts fits OpenClaw's per-file and total bootstrap limits (nothing truncated)", () => {
    const longest = {
      agentName: "N".repeat(MAX_AGENT_NAME_CHARS),
      instructions: "i".repeat(MAX_INSTRUCTIONS_CHARS),
      templateSlug: "t".repeat(MAX_TEMPLATE_SLUG_CHARS),
    }
    expect(decodeBody(ProvisionBody, longest)._tag).toBe("Success")
    expect(decodeBody(ProvisionBody, { ...longest, instructions: `${longest.instructions}x` })).toMatchObject({
      failure: { field: "instructions", reason: `must be at most ${MAX_INSTRUCTIONS_CHARS} characters` },
    })
    expect(decodeBody(ProvisionBody, { ...longest, templateSlug: `${longest.templateSlug}x` })).toMatchObject({
      failure: { field: "templateSlug" },
    })
    const identity = identityMarkdown(longest)
    // With the contract's 8,000-character instructions it fits OpenClaw's default per-file limit as well.
    expect(identity.length).toBeLessThanOrEqual(20_000)
    const c = buildOpenClawConfig({ settings: settingsFromEnv({ OPENCLAW_STATE_DIR: "/srv/a" }), hasModelKey: false })
    expect(c.agents.defaults.bootstrapMaxChars).toBe(BOOTSTRAP_MAX_CHARS)
    expect(identity.length).toBeLessThanOrEqual(c.agents.defaults.bootstrapMaxChars)
    const allTools = toolLines(
      buildOpenClawConfig({ settings: settingsFromEnv({}), hasModelKey: true, webSearch: true }).tools.allow,
      {
        email: { address: `${"a".repeat(64)}@agentmail.to` },
        phone: { number: "+155500011112222" },
        wallet: { address: `0x${"f".repeat(40)}` },
      },
    )
    // USER.md is injected too, within its own 4,000-character budget.
    const total =
      identity.length + agentsMarkdown(longest, allTools, "30m").length + soulMarkdown(longest).length + 4_000
    expect(total).toBeLessThanOrEqual(c.agents.defaults.bootstrapTotalMaxChars)
    expect(c.agents.defaults.bootstrapTotalMaxChars).toBe(BOOTSTRAP_TOTAL_MAX_CHARS)
  })
})

describe("apply + gateway launch", () => {
  it("writes config (mode 600) and workspace, keeps provision secrets out of openclaw.json, and sets offline env", () => {
    const dir = tempDir()
    const env = { OPENCLAW_STATE_DIR: dir, PORT: "18801", INSTANCE_TOKEN: "tok", AGENT_NAME: "Scout" }
    writeFileSync(join(dir, ".env"), formatSecretsEnv({ OPENROUTER_API_KEY: "sk-very-secret" }), { mode: 0o600 })
    const settings = settingsFromEnv(env)
    const result = applyRuntime(settings, env)
    expect(result.hasModelKey).toBe(true)
    const text = readFileSync(join(dir, "openclaw.json"), "utf8")
    expect(text).not.toContain("sk-very-secret")
    expect(JSON.parse(text).models.providers[MODEL_PROVIDER_ID].apiKey).toBe("${OPENROUTER_API_KEY}")
    expect(statSync(join(dir, "openclaw.json")).mode & 0o777).toBe(0o600)
    expect(readFileSync(join(dir, "workspace", "IDENTITY.md"), "utf8")).toContain("Scout")
    expect(statSync(join(dir, "convos", "agent.json")).mode & 0o777).toBe(0o600)

    const genv = gatewayEnv(settings, { ...env, NODE_COMPILE_CACHE: "/elsewhere" })
    expect(genv).toMatchObject({
      OPENCLAW_DISABLE_BONJOUR: "1",
      OPENCLAW_NO_RESPAWN: "1",
      OPENCLAW_STATE_DIR: dir,
      OPENCLAW_GATEWAY_TOKEN: "tok",
      OPENROUTER_API_KEY: "sk-very-secret",
    })
    // OpenClaw's compile cache (under os.tmpdir()) and log file live in the agent's state dir; NODE_COMPILE_CACHE would
    // make OpenClaw's launcher respawn itself into a second process
    expect(genv.TMPDIR).toBe(join(dir, "tmp"))
    expect(genv.NODE_COMPILE_CACHE).toBeUndefined()
    // Two glibc malloc arenas for the gateway and its helpers (docs/runtime-footprint.md), unless the env says otherwise
    expect(genv.MALLOC_ARENA_MAX).toBe("2")
    expect(gatewayEnv(settings, { ...env, MALLOC_ARENA_MAX: "16" }).MALLOC_ARENA_MAX).toBe("16")
    // V8 limits on the gateway's own command line (not NODE_OPTIONS, which OpenClaw's helper processes would inherit)
    expect(gatewayArgs(settings)).toEqual([
      ...GATEWAY_NODE_FLAGS,
      openclawEntry(),
      "gateway",
      "run",
      "--port",
      "18801",
      "--bind",
      "loopback",
    ])
    expect(genv.NODE_OPTIONS).toBeUndefined()
  })
})

describe("the gateway's compile cache", () => {
  it("a new agent's starts as a copy of the host's; an agent's own cache is never replaced", () => {
    const dir = tempDir()
    const host = tempDir()
    const settings = settingsFromEnv({ OPENCLAW_STATE_DIR: dir })
    expect(seedCompileCache(settings, host)).toBe(false) // the host has none: nothing to copy
    mkdirSync(join(host, "node-compile-cache", "openclaw"), { recursive: true })
    writeFileSync(join(host, "node-compile-cache", "openclaw", "entry"), "compiled")
    expect(seedCompileCache(settings, host)).toBe(true)
    expect(readFileSync(join(dir, "tmp", "node-compile-cache", "openclaw", "entry"), "utf8")).toBe("compiled")
    writeFileSync(join(host, "node-compile-cache", "openclaw", "entry"), "newer")
    expect(seedCompileCache(settings, host)).toBe(false)
    expect(readFileSync(join(dir, "tmp", "node-compile-cache", "openclaw", "entry"), "utf8")).toBe("compiled")
  })
})

describe("plugin entry", () => {
  const pluginDir = join(import.meta.dirname, "..", "gateway", "extensions", "convos")
  it("takes the contract's routes, the typed tools and the model provider id from runtime/src; the manifest owns the tools", () => {
    const entry = readFileSync(join(pluginDir, "src", "index.ts"), "utf8")
    expect(entry).toMatch(/import \{ ROUTES \} from "(\.\.\/)+src\/http\/routes\.ts"/)
    expect(entry).toMatch(
      /import \{ AGENT_SERVICE_TOOLS, MODEL_PROVIDER_ID \} from "(\.\.\/)+src\/config\/openclawConfig\.ts"/,
    )
    // OpenClaw refuses a tool its plugin's manifest does not declare
    const manifest = JSON.parse(readFileSync(join(pluginDir, "openclaw.plugin.json"), "utf8"))
    expect(manifest.contracts.tools).toEqual([...AGENT_SERVICE_TOOLS])
  })

  it("OpenClaw loads it compiled: one JS file, no TypeScript loader, only the SDK and the XMTP native bindings outside", () => {
    const build = spawnSync(
      process.execPath,
      [join(import.meta.dirname, "..", "..", "scripts", "build-runtime.mjs"), "--if-stale"],
      { encoding: "utf8" },
    )
    expect(build.status, build.stderr).toBe(0)
    const pkg = JSON.parse(readFileSync(join(pluginDir, "package.json"), "utf8"))
    expect(pkg.openclaw.extensions).toEqual(["./dist/index.js"])
    const bundle = readFileSync(join(pluginDir, "dist", "index.js"), "utf8")
    const imported = new Set(
      [...bundle.matchAll(/^import [^"]*"([^"]+)";?/gm)].map((m) => m[1]!).filter((m) => !m.startsWith("node:")),
    )
    expect([...imported].filter((m) => m !== "@xmtp/node-bindings" && !m.startsWith("openclaw/plugin-sdk/"))).toEqual(
      [],
    )
    expect(bundle).not.toMatch(/from "tsx|import\("tsx/)
    expect(bundle).toContain('"/pool/provision"') // the HTTP contract is in the bundle, not loaded from runtime/src at run time
  })
})

describe("a model endpoint of your own (MODEL_BASE_URL, MODEL, MODEL_API_KEY)", () => {
  const base = { OPENCLAW_STATE_DIR: "/tmp/endpoint-test" }
  it("without an OpenRouter key, the agent thinks with the configured endpoint and model id; no key needed", () => {
    const settings = settingsFromEnv({ ...base, MODEL_BASE_URL: "http://127.0.0.1:11434/v1", MODEL: "llama3.2" })
    const c = buildOpenClawConfig({ settings, hasModelKey: false })
    expect(c.agents.defaults.model.primary).toBe("convos-model/llama3.2")
    expect(c.models.providers).toEqual({
      "convos-model": expect.objectContaining({
        baseUrl: "${MODEL_BASE_URL}",
        apiKey: "no-key",
        api: "openai-completions",
        models: [expect.objectContaining({ id: "llama3.2" })],
      }),
    })
    // with a key, by reference only
    expect(
      buildOpenClawConfig({ settings, hasModelKey: false, hasEndpointKey: true }).models.providers!["convos-model"]!
        .apiKey,
    ).toBe("${MODEL_API_KEY}")
  })
  it("an OpenRouter key keeps priority over the endpoint", () => {
    const settings = settingsFromEnv({ ...base, MODEL_BASE_URL: "http://127.0.0.1:11434/v1", MODEL: "llama3.2" })
    const c = buildOpenClawConfig({ settings, hasModelKey: true })
    expect(c.agents.defaults.model.primary).toBe("convos-openrouter/anthropic/claude-sonnet-4-6")
    expect(Object.keys(c.models.providers!)).toEqual(["convos-openrouter"])
  })
  it("MODEL_BASE_URL without MODEL is refused, naming the variable", () => {
    expect(() => settingsFromEnv({ ...base, MODEL_BASE_URL: "http://127.0.0.1:11434/v1" })).toThrow(/MODEL is not/)
  })
})
