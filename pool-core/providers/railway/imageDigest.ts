import { Effect } from "effect"

// Pins the agent image by digest before each deploy: `ghcr.io/org/runtime:1.2` → `ghcr.io/org/runtime@sha256:…`.
// Railway then deploys exactly the image that was current at create time, never a stale cached layer of the tag
// and never a tag pushed between two agents' creates. The digest comes from the registry's OCI distribution API:
// HEAD /v2/<repo>/manifests/<tag> (Docker-Content-Digest), with the anonymous pull token the registry's
// WWW-Authenticate challenge points to (ghcr.io, Docker Hub and most registries work this way for public images).
// When it cannot be resolved (private image, registry down), the tag is deployed as before, with a warning.

export interface DigestOptions {
  /** Base URL of a registry host's API (tests point it at a loopback registry). Default `https://<host>`. */
  readonly registryUrl?: (host: string) => string
  readonly timeoutMs?: number
}

const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ")

/** host, repository and tag of an image reference (Docker Hub's short forms expanded). Null when already pinned. */
export const parseImage = (image: string): { host: string; repository: string; tag: string; name: string } | null => {
  if (image.includes("@")) return null
  const slash = image.indexOf("/")
  const first = slash < 0 ? "" : image.slice(0, slash)
  const explicitHost = first.includes(".") || first.includes(":") || first === "localhost"
  const rest = explicitHost ? image.slice(slash + 1) : image
  const colon = rest.lastIndexOf(":")
  const repoPart = colon > rest.lastIndexOf("/") ? rest.slice(0, colon) : rest
  const tag = colon > rest.lastIndexOf("/") ? rest.slice(colon + 1) : "latest"
  const host = explicitHost ? first : "docker.io"
  const repository = host === "docker.io" && !repoPart.includes("/") ? `library/${repoPart}` : repoPart
  const name = explicitHost ? `${first}/${repoPart}` : repoPart
  return { host, repository, tag, name }
}

const apiHost = (host: string) => (host === "docker.io" ? "registry-1.docker.io" : host)

/** `Bearer realm="…",service="…",scope="…"` → its parameters. */
const challenge = (header: string | null): Record<string, string> | null => {
  if (!header || !/^Bearer\s/i.test(header)) return null
  return Object.fromEntries([...header.slice(7).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]))
}

const resolveOnce = async (image: string, options: DigestOptions): Promise<string> => {
  const ref = parseImage(image)
  if (ref === null) return image
  const base = (options.registryUrl ?? ((h: string) => `https://${h}`))(apiHost(ref.host))
  const signal = AbortSignal.timeout(options.timeoutMs ?? 5_000)
  const manifest = `${base}/v2/${ref.repository}/manifests/${encodeURIComponent(ref.tag)}`
  let res = await fetch(manifest, { method: "HEAD", headers: { accept: ACCEPT }, signal })
  if (res.status === 401) {
    const params = challenge(res.headers.get("www-authenticate"))
    if (!params?.realm)
      throw new Error(
        `the registry asks for credentials this pool does not have (${res.headers.get("www-authenticate") ?? "no challenge"})`,
      )
    const url = new URL(params.realm)
    if (params.service) url.searchParams.set("service", params.service)
    url.searchParams.set("scope", `repository:${ref.repository}:pull`)
    const tokenRes = await fetch(url, { signal })
    if (!tokenRes.ok) throw new Error(`the registry's token endpoint answered ${tokenRes.status}`)
    const body = (await tokenRes.json()) as { token?: string; access_token?: string }
    const token = body.token ?? body.access_token
    if (!token) throw new Error("the registry's token endpoint answered no token")
    res = await fetch(manifest, {
      method: "HEAD",
      headers: { accept: ACCEPT, authorization: `Bearer ${token}` },
      signal,
    })
  }
  if (!res.ok) throw new Error(`manifest ${ref.tag} answered ${res.status}`)
  const digest = res.headers.get("docker-content-digest")
  if (!digest || !/^sha256:[0-9a-f]{64}$/.test(digest))
    throw new Error(`no usable Docker-Content-Digest (${digest ?? "none"})`)
  return `${ref.name}@${digest}`
}

/** The image pinned by digest, or unchanged (with a warning saying why) when the registry cannot tell. */
export const pinImageDigest = (image: string, options: DigestOptions = {}): Effect.Effect<string> =>
  Effect.tryPromise(() => resolveOnce(image, options)).pipe(
    Effect.catch((e) =>
      Effect.as(
        Effect.logWarning(
          `railway: deploying ${image} by tag: its digest could not be resolved (${String((e as { cause?: unknown }).cause ?? e).slice(0, 200)}); make the image public or pin it yourself (image@sha256:…)`,
        ),
        image,
      ),
    ),
  )
