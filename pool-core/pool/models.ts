import { Config, Effect, Option } from "effect"
import { isModelId } from "@convos-agents/contract"
import { InvalidConfig, InvalidRequest } from "../domain/errors.ts"

// Which models agents may think with (issue 24). Every agent thinks with the configured model unless its template
// names another (templates.json `model`) or its owner switched it with `/model <agent> <id>`, which may pick only the
// configured model or one listed in MODELS_ALLOWED (documented in .env.example).

/** Why an agent cannot think, as it reports it (agent service API POST /me/model-problem). */
export const MODEL_PROBLEM_KINDS = ["unreachable", "unknown-model", "refused-key"] as const
export type ModelProblemKind = (typeof MODEL_PROBLEM_KINDS)[number]

/** One notice per agent and kind in this long: a model server that is down is not news every message. */
export const MODEL_PROBLEM_EVERY_MS = 10 * 60_000

export const DEFAULT_OPENROUTER_MODEL = "anthropic/claude-sonnet-4-6"

export interface ModelSettings {
  /**
   * The model agents think with by default: OPENCLAW_PRIMARY_MODEL when OpenRouter is configured (it keeps
   * priority), else MODEL with MODEL_BASE_URL; null when the pool has no model source.
   */
  readonly configured: string | null
  /** What an owner may switch to: the configured model first, then MODELS_ALLOWED. */
  readonly allowed: ReadonlyArray<string>
}

export const NO_MODELS: ModelSettings = { configured: null, allowed: [] }

/** As the runtime reads OPENCLAW_PRIMARY_MODEL: `openrouter/<vendor>/<model>` and `<vendor>/<model>` are one model. */
const openRouterId = (raw: string) => {
  const rest = raw.startsWith("openrouter/") ? raw.slice("openrouter/".length) : null
  return rest?.includes("/") ? rest : raw
}

/** Pure: the settings from the variables' values (null = unset). */
export const modelSettings = (v: {
  readonly openRouter: boolean
  readonly primaryModel: string | null
  readonly endpointUrl: string | null
  readonly endpointModel: string | null
  readonly allowed: string | null
}): ModelSettings => {
  const configured = v.openRouter
    ? openRouterId(v.primaryModel?.trim() || DEFAULT_OPENROUTER_MODEL)
    : v.endpointUrl?.trim()
      ? v.endpointModel?.trim() || null
      : null
  const listed = (v.allowed ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => (v.openRouter ? openRouterId(s) : s))
  const bad = listed.find((s) => !isModelId(s))
  if (bad !== undefined)
    throw new InvalidConfig({
      variable: "MODELS_ALLOWED",
      message: `MODELS_ALLOWED must be model ids separated by commas, such as llama3.2,qwen2.5:7b (got "${bad}").`,
    })
  return { configured, allowed: [...new Set([...(configured ? [configured] : []), ...listed])] }
}

const optional = (name: string) => Config.option(Config.String(name)).pipe(Config.map(Option.getOrNull))

export const loadModelSettings = Effect.gen(function* () {
  const read = Config.all({
    openRouter: Config.option(Config.Redacted("OPENROUTER_MANAGEMENT_KEY")).pipe(Config.map(Option.isSome)),
    primaryModel: optional("OPENCLAW_PRIMARY_MODEL"),
    endpointUrl: optional("MODEL_BASE_URL"),
    endpointModel: optional("MODEL"),
    allowed: optional("MODELS_ALLOWED"),
  })
  const v = yield* read.pipe(
    Effect.mapError(
      (e) => new InvalidConfig({ variable: "MODELS_ALLOWED", message: `Invalid model settings: ${e.message}` }),
    ),
  )
  return yield* Effect.try({
    try: () => modelSettings(v),
    catch: (e) =>
      e instanceof InvalidConfig ? e : new InvalidConfig({ variable: "MODELS_ALLOWED", message: String(e) }),
  })
})

/**
 * The model to record for an owner's `/model` choice: null for the configured one (the agent follows it), the id for
 * another allowed model; refused, naming what is allowed, otherwise.
 */
export const checkModelChoice = (models: ModelSettings, raw: string): Effect.Effect<string | null, InvalidRequest> => {
  const model = raw.trim()
  if (models.configured === null)
    return Effect.fail(
      new InvalidRequest({
        field: "model",
        message:
          "This pool has no model configured (no OpenRouter, no MODEL_BASE_URL), so there is nothing to switch to; ask its operators.",
      }),
    )
  if (!models.allowed.includes(model))
    return Effect.fail(
      new InvalidRequest({
        field: "model",
        message: `"${model.slice(0, 80)}" is not a model allowed here. Allowed: ${models.allowed.join(", ")}${models.allowed.length === 1 ? " (the operators can allow more with MODELS_ALLOWED)" : ""}.`,
      }),
    )
  return Effect.succeed(model === models.configured ? null : model)
}
