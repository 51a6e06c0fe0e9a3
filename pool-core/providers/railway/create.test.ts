import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { fakeApi, type Reply } from "../http/testing.ts"
import { parseImage } from "./imageDigest.ts"
import { expectNothingRefused, railwayOnFake, sent, spec } from "./testing/harness.ts"

// What a create deploys and how it finds what an earlier, lost answer made: paged lookups, the image pinned by
// digest (a loopback OCI registry with the anonymous-token challenge ghcr.io and Docker Hub use).

const digest = `sha256:${"d".repeat(64)}`

/** A registry serving one manifest behind a Bearer challenge, the way ghcr.io does for public images. */
const registry = fakeApi((r): Reply => {
  if (r.path.startsWith("/token?")) {
    const url = new URL(r.path, "http://x")
    return url.searchParams.get("scope") === "repository:org/runtime:pull"
      ? { json: { token: "anon-pull" } }
      : { status: 403, json: {} }
  }
  if (r.method !== "HEAD" || !r.path.startsWith("/v2/org/runtime/manifests/")) return { status: 404, json: {} }
  if (r.headers.authorization !== "Bearer anon-pull")
    return {
      status: 401,
      headers: {
        "www-authenticate": `Bearer realm="${realm}",service="registry.test",scope="repository:org/runtime:pull"`,
      },
      json: {},
    }
  return r.path.endsWith("/1.2") ? { headers: { "docker-content-digest": digest } } : { status: 404, json: {} }
})
let realm = ""

describe("Railway create", () => {
  it.live("the image is pinned by digest when its registry resolves it", () =>
    Effect.gen(function* () {
      const reg = yield* registry
      realm = `${reg.url}/token`
      const { fake, compute } = yield* railwayOnFake({
        image: "registry.test/org/runtime:1.2",
        registry: { registryUrl: () => reg.url },
      })
      const h = yield* compute.create(spec)
      expect(fake.instanceOf(h.providerRef).patch?.image).toBe(`registry.test/org/runtime@${digest}`)
      expect(reg.requests.map((r) => r.method)).toEqual(["HEAD", "GET", "HEAD"])
      expectNothingRefused(fake)
    }).pipe(Effect.scoped),
  )

  it.live("an image the registry cannot resolve is deployed by its tag (the create goes on)", () =>
    Effect.gen(function* () {
      const reg = yield* registry
      realm = `${reg.url}/token`
      const { fake, compute } = yield* railwayOnFake({
        image: "registry.test/org/runtime:missing",
        registry: { registryUrl: () => reg.url },
      })
      const h = yield* compute.create(spec)
      expect(fake.instanceOf(h.providerRef).patch?.image).toBe("registry.test/org/runtime:missing")
    }).pipe(Effect.scoped),
  )

  it("image references: registry host, Docker Hub's short forms, tags and pinned digests", () => {
    expect(parseImage("ghcr.io/xmtplabs/runtime:1.2")).toEqual({
      host: "ghcr.io",
      repository: "xmtplabs/runtime",
      tag: "1.2",
      name: "ghcr.io/xmtplabs/runtime",
    })
    expect(parseImage("node")).toEqual({ host: "docker.io", repository: "library/node", tag: "latest", name: "node" })
    expect(parseImage("localhost:5000/a/b")).toEqual({
      host: "localhost:5000",
      repository: "a/b",
      tag: "latest",
      name: "localhost:5000/a/b",
    })
    expect(parseImage(`ghcr.io/a/b@${digest}`)).toBeNull()
  })

  it.live("a lost projectCreate answer: the lookup by name pages through the workspace and finds it on page 2", () =>
    Effect.gen(function* () {
      const { fake, api, compute } = yield* railwayOnFake({ pageSize: 2 }, { projectCreateWindowMs: 0, pageSize: 2 })
      for (const other of ["other-1", "other-2", "other-3"]) fake.addProject(other)
      let lost = 1
      api.setHandler(async (r) => {
        const reply = await fake.handle(r)
        return (r.body as { query: string }).query.includes("projectCreate") && lost-- > 0
          ? { status: 502, json: { message: "bad gateway" } }
          : reply
      })
      const h = yield* compute.create(spec)
      expect(sent(api.requests, "projectCreate")).toBe(1)
      expect([...fake.projects.values()].filter((p) => p.name === "convos-test-agent-i1").map((p) => p.id)).toEqual([
        h.providerProjectRef,
      ])
      expectNothingRefused(fake)
    }).pipe(Effect.scoped),
  )
})
