// Compute layer for the crash test's manager process: talks to the fake cloud over HTTP.
import { Effect, Layer } from "effect"
import { ProviderError } from "../../../domain/errors.ts"
import { Compute, type ComputeStatus } from "../../../providers/compute/Compute.ts"

const call = <A>(operation: string, url: string, init: RequestInit) =>
  Effect.tryPromise({
    try: async () => {
      const res = await fetch(url, { ...init, headers: { "content-type": "application/json" } })
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      return (await res.json()) as A
    },
    catch: (e) =>
      new ProviderError({ provider: "fake-cloud", operation, status: null, retryable: true, message: String(e) }),
  })

export const fakeCloudCompute = (base: string) =>
  Layer.succeed(Compute, {
    name: "local",
    create: (spec) =>
      call<{ ref: string; url: string }>("create", `${base}/instances`, {
        method: "POST",
        body: JSON.stringify({ instanceId: spec.instanceId, token: spec.instanceToken }),
      }).pipe(Effect.map((r) => ({ providerRef: r.ref, providerProjectRef: null, url: r.url }))),
    destroy: (ref) => call("destroy", `${base}/instances/${ref}`, { method: "DELETE" }).pipe(Effect.asVoid),
    statusBatch: (refs) =>
      call<Record<string, "running" | "gone">>("status", `${base}/status`, {
        method: "POST",
        body: JSON.stringify({ refs: refs.map((r) => r.providerRef) }),
      }).pipe(
        Effect.map(
          (m) =>
            new Map<string, ComputeStatus>(
              refs.map((r) => [
                r.providerRef,
                { providerRef: r.providerRef, state: m[r.providerRef] ?? "gone", url: null },
              ]),
            ),
        ),
      ),
  })
