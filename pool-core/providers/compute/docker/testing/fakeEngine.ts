import { randomBytes } from "node:crypto"
import { readFileSync, rmSync } from "node:fs"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { checkedByContract, type OpenApiDocument, openApiContract } from "../../../http/openapi.ts"
import type { RecordedRequest, Reply } from "../../../http/testing.ts"

// A Docker engine in memory on a unix socket (as DOCKER_HOST=unix://… reaches the real one), for tests. Every request
// is checked against the published Docker Engine API (../openapi.json) before it is answered, and refused with the
// engine's own 400 { message } when it breaks it; answers are checked against the documented shapes too. Containers
// keep their labels, env, host config and mounts, so a test can check what an agent container was made with;
// `exit` and `restartEngine` play a crash and a machine restart.

export interface FakeContainer {
  readonly id: string
  readonly name: string
  readonly image: string
  readonly env: ReadonlyArray<string>
  readonly labels: Readonly<Record<string, string>>
  readonly hostConfig: Record<string, unknown>
  state: "created" | "running" | "exited" | "restarting" | "paused" | "dead"
  exitCode: number
  /** Created with a TTY: its log is answered raw instead of multiplexed. */
  tty: boolean
  /** What it wrote, a line an entry (as the json-file log driver keeps it), oldest first. */
  readonly output: Array<{ readonly stream: "stdout" | "stderr"; readonly line: string }>
}

/** The attach/logs stream format: per entry an 8-byte header (stream 1 stdout, 2 stderr; size big-endian) + bytes. */
const multiplexed = (entries: ReadonlyArray<{ readonly stream: "stdout" | "stderr"; readonly line: string }>) =>
  Buffer.concat(
    entries.flatMap((e) => {
      const payload = Buffer.from(e.line, "utf8")
      const header = Buffer.alloc(8)
      header[0] = e.stream === "stdout" ? 1 : 2
      header.writeUInt32BE(payload.length, 4)
      return [header, payload]
    }),
  )

const contract = openApiContract(
  JSON.parse(readFileSync(new URL("../openapi.json", import.meta.url), "utf8")) as OpenApiDocument,
)
const BASE = "/v1.41"

export const makeFakeEngineState = (images: ReadonlyArray<string>) => {
  const imageSet = new Set(images)
  const containers = new Map<string, FakeContainer>()
  const volumes = new Map<string, Readonly<Record<string, string>>>()
  const find = (ref: string) => containers.get(ref) ?? [...containers.values()].find((c) => c.id === ref)
  const notFound = (what: string): Reply => ({ status: 404, json: { message: `No such ${what}` } })
  const usedBy = (volume: string) =>
    [...containers.values()].some((c) =>
      ((c.hostConfig.Mounts as Array<{ Source: string }> | undefined) ?? []).some((m) => m.Source === volume),
    )

  const handle = (r: RecordedRequest): Reply => {
    const url = new URL(r.path, "http://docker")
    const path = url.pathname.slice(BASE.length)
    const body = (r.body ?? {}) as Record<string, unknown>
    let m: RegExpExecArray | null
    if (r.method === "GET" && path === "/_ping") return { raw: "OK", headers: { "content-type": "text/plain" } }
    if (r.method === "GET" && (m = /^\/images\/(.+)\/json$/.exec(path))) {
      const name = decodeURIComponent(m[1]!)
      return imageSet.has(name) ? { json: { Id: `sha256:${name}`, RepoTags: [name] } } : notFound(`image: ${name}`)
    }
    if (r.method === "GET" && path === "/containers/json") {
      const all = url.searchParams.get("all") === "true" || url.searchParams.get("all") === "1"
      const labels = (JSON.parse(url.searchParams.get("filters") ?? "{}") as { label?: Array<string> }).label ?? []
      const matches = [...containers.values()].filter(
        (c) =>
          (all || c.state === "running") &&
          labels.every((l) => {
            const [k, v] = l.split("=", 2) as [string, string | undefined]
            return v === undefined ? k in c.labels : c.labels[k] === v
          }),
      )
      return {
        json: matches.map((c) => ({
          Id: c.id,
          Names: [`/${c.name}`],
          Image: c.image,
          State: c.state,
          Status:
            c.state === "exited"
              ? `Exited (${c.exitCode}) 1 second ago`
              : c.state === "running"
                ? "Up 1 second"
                : c.state,
          Labels: c.labels,
        })),
      }
    }
    if (r.method === "POST" && path === "/containers/create") {
      const name = url.searchParams.get("name") ?? randomBytes(6).toString("hex")
      if (containers.has(name))
        return { status: 409, json: { message: `Conflict. The container name "/${name}" is already in use.` } }
      const image = String(body.Image)
      if (!imageSet.has(image)) return notFound(`image: ${image}`)
      const id = randomBytes(32).toString("hex")
      const hostConfig = (body.HostConfig ?? {}) as Record<string, unknown>
      for (const mount of (hostConfig.Mounts as Array<{ Source: string }> | undefined) ?? [])
        if (!volumes.has(mount.Source)) volumes.set(mount.Source, {})
      containers.set(name, {
        id,
        name,
        image,
        env: (body.Env as Array<string>) ?? [],
        labels: (body.Labels as Record<string, string>) ?? {},
        hostConfig,
        state: "created",
        exitCode: 0,
        tty: body.Tty === true,
        output: [],
      })
      return { status: 201, json: { Id: id, Warnings: [] } }
    }
    if (r.method === "GET" && (m = /^\/containers\/([^/]+)\/logs$/.exec(path))) {
      const c = find(decodeURIComponent(m[1]!))
      if (!c) return notFound(`container: ${m[1]}`)
      const on = (flag: string) => url.searchParams.get(flag) === "true" || url.searchParams.get(flag) === "1"
      const tail = url.searchParams.get("tail") ?? "all"
      const wanted = c.output.filter((e) => on(e.stream))
      const shown = tail === "all" ? wanted : wanted.slice(Math.max(0, wanted.length - Number(tail)))
      return {
        raw: c.tty ? Buffer.from(shown.map((e) => e.line).join(""), "utf8") : multiplexed(shown),
        headers: { "content-type": "application/octet-stream" },
      }
    }
    if ((m = /^\/containers\/([^/]+)(\/json|\/start)?$/.exec(path))) {
      const c = find(decodeURIComponent(m[1]!))
      if (!c) return notFound(`container: ${m[1]}`)
      if (r.method === "GET" && m[2] === "/json") {
        return {
          json: {
            Id: c.id,
            Name: `/${c.name}`,
            Image: c.image,
            State: { Status: c.state, Running: c.state === "running", ExitCode: c.exitCode },
            Config: { Image: c.image, Env: c.env, Labels: c.labels, Tty: c.tty },
            HostConfig: c.hostConfig,
          },
        }
      }
      if (r.method === "POST" && m[2] === "/start") {
        if (c.state === "running") return { status: 304 }
        c.state = "running"
        c.exitCode = 0
        return { status: 204 }
      }
      if (r.method === "DELETE" && m[2] === undefined) {
        if (c.state === "running" && url.searchParams.get("force") !== "true")
          return {
            status: 409,
            json: {
              message: `cannot remove container "/${c.name}": container is running: stop the container before removing or force remove`,
            },
          }
        containers.delete(c.name)
        return { status: 204 }
      }
    }
    if (r.method === "POST" && path === "/volumes/create") {
      const name = String(body.Name)
      if (!volumes.has(name)) volumes.set(name, (body.Labels as Record<string, string>) ?? {})
      return {
        status: 201,
        json: {
          Name: name,
          Driver: "local",
          Mountpoint: `/var/lib/docker/volumes/${name}/_data`,
          Labels: volumes.get(name),
          Scope: "local",
          Options: {},
        },
      }
    }
    if (r.method === "DELETE" && (m = /^\/volumes\/([^/]+)$/.exec(path))) {
      const name = decodeURIComponent(m[1]!)
      if (!volumes.has(name)) return notFound(`volume: ${name}`)
      if (usedBy(name)) return { status: 409, json: { message: `remove ${name}: volume is in use` } }
      volumes.delete(name)
      return { status: 204 }
    }
    return { status: 500, json: { message: `the fake engine does not implement ${r.method} ${path}` } }
  }

  return {
    containers,
    volumes,
    handle,
    /** The container's process ends on its own (a crash: code ≠ 0), as if past its restart policy. */
    exit: (name: string, code: number) => {
      const c = containers.get(name)!
      c.state = "exited"
      c.exitCode = code
    },
    /** The container writes `text` on `stream` (kept a line an entry, as the engine's log driver keeps it). */
    write: (name: string, stream: "stdout" | "stderr", text: string) => {
      const c = containers.get(name)!
      for (const line of text.match(/[^\n]*\n|[^\n]+$/g) ?? []) c.output.push({ stream, line })
    },
    /** A machine or engine restart without restart policies honoured: every container is stopped, volumes kept. */
    restartEngine: () => {
      for (const c of containers.values())
        if (c.state === "running") {
          c.state = "exited"
          c.exitCode = 0
        }
    },
  }
}

export type FakeEngineState = ReturnType<typeof makeFakeEngineState>

/** The fake on a fresh unix socket for the scope: `host` is its DOCKER_HOST; `requests` and `violations` for checks. */
export const fakeDockerEngine = (images: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const state = makeFakeEngineState(images)
      const checked = checkedByContract(
        contract,
        (v) => ({ status: v.kind === "unknown path" ? 404 : 400, json: { message: v.message } }),
        state.handle,
      )
      const requests: Array<RecordedRequest> = []
      const server = createServer((req: IncomingMessage, res: ServerResponse) => {
        let text = ""
        req.setEncoding("utf8")
        req.on("data", (c: string) => (text += c))
        req.on("end", () => {
          let body: unknown = text === "" ? undefined : text
          try {
            body = text === "" ? undefined : JSON.parse(text)
          } catch {}
          const recorded: RecordedRequest = {
            method: req.method ?? "",
            path: req.url ?? "",
            headers: req.headers,
            body,
          }
          requests.push(recorded)
          const reply = checked.handle(recorded)
          res.writeHead(reply.status ?? 200, { "content-type": "application/json", ...reply.headers })
          res.end(reply.raw ?? (reply.json === undefined ? "" : JSON.stringify(reply.json)))
        })
      })
      const socket = join(tmpdir(), `fake-docker-${process.pid}-${randomBytes(4).toString("hex")}.sock`)
      await new Promise<void>((resolve) => server.listen(socket, resolve))
      return { host: `unix://${socket}`, state, requests, violations: checked.violations, server, socket }
    }),
    ({ server, socket }) =>
      Effect.promise(
        () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections()
            server.close(() => resolve())
          }),
      ).pipe(Effect.andThen(Effect.sync(() => rmSync(socket, { force: true })))),
  )
