import { Effect, Exit, Layer, ManagedRuntime, Option, Tracer } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { poolLayerOverProviderFakes } from "../../api/test/server.ts"
import { Pool } from "../../pool/Pool.ts"

// Spans collected in memory by a Tracer of the test's own (the exporter's place), on the test pool with live
// AgentResources over the loopback provider fakes, so the provider calls of a claim are real HTTP calls: the claim's
// span tree (claim → provision → resources → provider.<name>, and → runtime), the tick's phases, how spans end, and
// the provider call metrics agreeing with the provider spans.

const spans: Array<Tracer.NativeSpan> = []
const tracer = Tracer.make({
  span(options) {
    const span = new Tracer.NativeSpan(options)
    spans.push(span)
    return span
  },
})

// Building and stopping a test pool takes minutes on a loaded 2-core machine.
const HOOK_TIMEOUT = 600_000
const runtime = ManagedRuntime.make(
  poolLayerOverProviderFakes.pipe(Layer.provideMerge(Layer.succeed(Tracer.Tracer, tracer))),
)
beforeAll(() => runtime.runPromise(Effect.void), HOOK_TIMEOUT)
afterAll(() => runtime.dispose(), HOOK_TIMEOUT)

const named = (name: string) => spans.filter((s) => s.name === name)
const parentOf = (s: Tracer.Span) => Option.getOrUndefined(s.parent) as Tracer.Span | undefined
const childrenOf = (parent: Tracer.Span, name?: string) =>
  spans.filter((s) => parentOf(s)?.spanId === parent.spanId && (name === undefined || s.name === name))
const exitOf = (s: Tracer.NativeSpan) => (s.status._tag === "Ended" ? s.status.exit : undefined)
/** Sum of a counter's series whose labels include all of `labels`. */
const counted = (text: string, metric: string, labels: ReadonlyArray<string>) =>
  text
    .split("\n")
    .filter((l) => l.startsWith(`${metric}{`) && labels.every((x) => l.includes(x)))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0)

describe("spans, collected in memory", { timeout: 300_000 }, () => {
  it("a claim is one trace: claim → provision → resources (a span per provider call) and runtime; the tick has its phases", async () => {
    const before = await runtime.runPromise(PrometheusMetrics.format())
    const claimed = await runtime.runPromise(
      Effect.flatMap(Pool, (p) =>
        p
          .replenish(1)
          .pipe(Effect.andThen(p.tick), Effect.andThen(p.claim({ key: "spans-claim", claimedBy: "api:spans" }))),
      ),
    )
    const after = await runtime.runPromise(PrometheusMetrics.format())

    const claim = named("pool.claim").find((s) => s.attributes.get("claim.owner") === "api:spans")!
    expect(claim).toBeDefined()
    expect(Exit.isSuccess(exitOf(claim)!)).toBe(true)
    const [provision] = childrenOf(claim, "pool.provision")
    expect(provision?.traceId).toBe(claim.traceId)
    expect(provision!.attributes.get("instance.id")).toBe(claimed.instance.id)
    const [resources] = childrenOf(provision!, "pool.provision.resources")
    const [runtimeSpan] = childrenOf(provision!, "pool.provision.runtime")
    expect(resources).toBeDefined()
    expect(runtimeSpan).toBeDefined()
    // Every provider call of the claim is a span under it, naming the provider, operation and method, and ended.
    const providerSpans = spans.filter((s) => s.name.startsWith("provider.") && s.traceId === claim.traceId)
    // The fakes configure OpenRouter (the agent's key), AgentMail (its inbox) and Telnyx (its number).
    for (const name of ["provider.openrouter", "provider.agentmail", "provider.telnyx"])
      expect(providerSpans.map((s) => s.name)).toContain(name)
    for (const s of providerSpans) {
      expect(s.attributes.get("provider.name"), s.name).toBe(s.name.slice("provider.".length))
      expect(String(s.attributes.get("provider.operation") ?? ""), s.name).not.toBe("")
      expect(s.attributes.get("http.method"), s.name).toMatch(/^(GET|POST|PATCH|PUT|DELETE)$/)
      expect(exitOf(s), s.name).toBeDefined()
      // Under the resources step (possibly through the provider layer's own spans).
      let up = parentOf(s)
      while (up && up.spanId !== resources!.spanId) up = parentOf(up)
      expect(up?.spanId, s.name).toBe(resources!.spanId)
    }
    // provider_calls_total counted each OpenRouter call of the claim, under its outcome.
    const openrouterCalls = providerSpans.filter((s) => s.name === "provider.openrouter").length
    expect(
      counted(after, "provider_calls_total", ['provider="openrouter"']) -
        counted(before, "provider_calls_total", ['provider="openrouter"']),
    ).toBeGreaterThanOrEqual(openrouterCalls)
    expect(counted(after, "provider_calls_total", ['provider="openrouter"', 'outcome="ok"'])).toBeGreaterThan(0)

    const tick = named("pool.tick").find((t) => childrenOf(t).length > 0)!
    expect(tick).toBeDefined()
    expect(childrenOf(tick).map((s) => s.name)).toContain("pool.tick.health")
    expect(Exit.isSuccess(exitOf(tick)!)).toBe(true)
  })

  it("a refused claim's span ends in failure", async () => {
    const exit = await runtime.runPromiseExit(
      Effect.flatMap(Pool, (p) => p.claim({ key: "spans-none", claimedBy: "api:spans-none" })),
    )
    expect(Exit.isFailure(exit)).toBe(true)
    const claim = named("pool.claim").find((s) => s.attributes.get("claim.owner") === "api:spans-none")!
    const ended = exitOf(claim)
    expect(ended && Exit.isFailure(ended)).toBe(true)
    expect(JSON.stringify(ended)).toContain("NoAgentAvailable")
  })
})
