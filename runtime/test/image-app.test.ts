// The runtime image's /app made from this machine's install (scripts/image/hostApp.mjs): which packages go in (the
// runtime workspace's production closure, resolved as Node resolves them) and which XMTP binding. No engine needed.
import { join } from "node:path"
import { describe, expect, it } from "vitest"
// @ts-expect-error: a plain .mjs build script without type declarations
import { hostAppUnusable, planHostApp, productionClosure } from "../../scripts/image/hostApp.mjs"

const repoRoot = join(import.meta.dirname, "..", "..")

describe("the runtime image's production closure", () => {
  const lock = {
    "": { workspaces: ["runtime", "shared"] },
    runtime: { dependencies: { shared: "1", a: "1" }, devDependencies: { dev: "1" } },
    shared: { dependencies: { c: "1" } },
    "node_modules/runtime": { link: true, resolved: "runtime" },
    "node_modules/shared": { link: true, resolved: "shared" },
    "node_modules/a": { dependencies: { b: "2" }, optionalDependencies: { "a-linux": "1", "a-darwin": "1" } },
    "node_modules/a/node_modules/b": { version: "2" },
    "node_modules/b": { version: "1", dev: true },
    "node_modules/a-linux": {},
    "node_modules/a-darwin": {},
    "node_modules/c": { peerDependencies: { p: "1", q: "1" }, peerDependenciesMeta: { q: { optional: true } } },
    "node_modules/p": {},
    "node_modules/dev": { dev: true },
  }

  it("follows dependencies, workspace links, optional and peer ones, nearest node_modules first; no dev ones", () => {
    const installed = (key: string) => key !== "node_modules/a-darwin"
    expect(productionClosure(lock, "runtime", installed)).toEqual([
      "node_modules/a",
      "node_modules/a-linux",
      "node_modules/a/node_modules/b",
      "node_modules/c",
      "node_modules/p",
    ])
  })

  it("refuses a lockfile that does not resolve a required dependency", () => {
    const broken = { ...lock, "node_modules/p": undefined }
    expect(() => productionClosure(broken, "runtime")).toThrow(/node_modules\/c needs p/)
  })

  it.skipIf(hostAppUnusable(repoRoot) !== null)(
    "this repository: the runtime's production packages and the gateway, one XMTP binding",
    () => {
      const { plan, packages, fingerprint } = planHostApp(repoRoot)
      expect(packages).toContain("node_modules/@xmtp/node-sdk")
      expect(packages).toContain("node_modules/effect")
      for (const notInImage of [
        "node_modules/tsx",
        "node_modules/vitest",
        "node_modules/playwright-core",
        "node_modules/@electric-sql/pglite",
      ])
        expect(packages).not.toContain(notInImage)
      const dests = plan.map(([, dest]: [string, string]) => dest)
      expect(dests.filter((d: string) => /bindings_node\.[^/]+\.node$/.test(d))).toEqual([
        "node_modules/@xmtp/node-bindings/dist/bindings_node.linux-x64-gnu.node",
      ])
      expect(dests).toContain("runtime/gateway/node_modules/openclaw/package.json")
      expect(dests).toContain("runtime/dist/cli.mjs")
      expect(dests.some((d: string) => d.includes("/src/") && !d.includes("node_modules/"))).toBe(false)
      expect(planHostApp(repoRoot).fingerprint).toBe(fingerprint)
    },
  )
})
