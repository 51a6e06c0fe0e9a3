// Stryker ignorer plugin (https://stryker-mutator.io/docs/stryker-js/disable-mutants/#using-an-ignore-plugin) for
// `npm run mutation`: mutants inside tracing, log and metric calls are not created. Those calls only name spans,
// annotate logs and label metrics; no guarantee the mutation score measures (claim, tick, auth, invites, ownership)
// depends on them, and each of their mutants would otherwise cost a full run of the tests that reach it.
import { declareValuePlugin, PluginKind } from "@stryker-mutator/api/plugin"

/** `Effect.<name>(…)` calls that only describe what runs (span names and attributes, log text and annotations). */
const effectObservability = new Set([
  "withSpan",
  "annotateLogs",
  "annotateCurrentSpan",
  "logWarning",
  "logInfo",
  "logDebug",
  "logError",
])
/** The metric wrappers of pool/observability/metrics.ts (claim duration histogram, counters, in-flight gauge). */
const metricWrappers = new Set(["measured", "inFlight"])

export const strykerPlugins = [
  declareValuePlugin(PluginKind.Ignore, "observability", {
    shouldIgnore(path) {
      if (!path.isCallExpression()) return undefined
      const callee = path.node.callee
      if (
        callee.type === "MemberExpression" &&
        callee.object.type === "Identifier" &&
        callee.object.name === "Effect" &&
        callee.property.type === "Identifier" &&
        effectObservability.has(callee.property.name)
      )
        return `Effect.${callee.property.name}: tracing/log metadata, not behaviour (stryker.ignorers.mjs)`
      if (callee.type === "Identifier" && metricWrappers.has(callee.name))
        return `${callee.name}: metric labels, not behaviour (stryker.ignorers.mjs)`
      return undefined
    },
  }),
]
