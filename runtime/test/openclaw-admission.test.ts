// The plugin runs each agent turn outside the root work of the HTTP request that opened the turn's message stream
// (runtime/gateway/extensions/convos/src/admission.ts). Checked against OpenClaw's own admission module (the copy the
// gateway runs, runtime/gateway/node_modules/openclaw): work a plugin-route request starts that outlives the request
// is refused as "draining" by OpenClaw, and the same work run through outsideRequestWork is admitted. The real-gateway
// path (two conversations made by POST /convos/conversation answering) is in e2e.test.ts.
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { describe, expect, it } from "vitest"
import { outsideRequestWork } from "../gateway/extensions/convos/src/admission.ts"

const dist = join(import.meta.dirname, "..", "gateway", "node_modules", "openclaw", "dist")

/** OpenClaw's admission module; its exports are minified letters, so functions are found by their own names. */
const admissionModule = async () => {
  const file = readdirSync(dist).find((f) => /^gateway-work-admission-[\w-]+\.mjs$/.test(f))
  if (!file) throw new Error(`no gateway-work-admission-*.mjs in ${dist}: OpenClaw moved its work admission`)
  const mod = (await import(pathToFileURL(join(dist, file)).href)) as Record<string, unknown>
  const fn = <F>(name: string): F => {
    const found = Object.values(mod).find((v) => typeof v === "function" && v.name === name)
    if (!found) throw new Error(`OpenClaw's ${file} has no ${name} any more`)
    return found as F
  }
  return {
    begin: fn<(origin: string) => { run: <T>(f: () => Promise<T>) => Promise<T>; release: () => void } | null>(
      "tryBeginGatewayRootWorkAdmission",
    ),
    closed: fn<() => boolean>("isGatewaySubordinateWorkAdmissionClosed"),
  }
}

describe("agent turns and OpenClaw's gateway work admission", () => {
  it("work a finished plugin-route request left behind is refused by OpenClaw, and admitted when run outside it", async () => {
    const { begin, closed } = await admissionModule()
    const request = begin("http:request")
    expect(request).not.toBeNull()
    // The request opens something that outlives it (here a timer; in the agent, the new identity's message stream).
    let later!: Promise<{ inherited: boolean; outside: boolean }>
    await request!.run(async () => {
      later = new Promise((resolve) => setTimeout(resolve, 20)).then(() => ({
        inherited: closed(),
        outside: outsideRequestWork(() => closed()),
      }))
    })
    request!.release() // the response went out
    const seen = await later
    expect(seen.inherited).toBe(true) // OpenClaw's command queue would reject: "Gateway is draining; …"
    expect(seen.outside).toBe(false)
  })
})
