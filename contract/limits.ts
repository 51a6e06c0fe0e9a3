import { Schema } from "effect"

// One table of input limits, used by every edge: the manager bot, the pool API and admin page, the web and the
// runtime contract. Each limit has one value; the edges build their checks from here so they refuse at the same
// boundary (server/test/limits.test.ts).

export const LIMITS = {
  /** An agent's name, in Unicode code points (the name rule, names.ts). */
  agentNameChars: 64,
  /**
   * An agent's instructions, in characters. 8,000 (the pool's value; the runtime took up to 20,000): every stored
   * agent already fits, and it is the most a chat message to the bot can carry with its command.
   */
  instructionsChars: 8_000,
  /** A template slug (the catalog's are far shorter). 64, the pool API's value (web and runtime said 100). */
  templateSlugChars: 64,
  /** An invite or join URL. */
  urlChars: 4_096,
  /** Instances one replenish or drain request may start or stop (bot, API, admin page). */
  poolCountMin: 1,
  poolCountMax: 20,
  /** A model id (`llama3.2`, `anthropic/claude-sonnet-4-6`, `qwen2.5:7b`): the longest OpenRouter ids are far shorter. */
  modelIdChars: 200,
  /** An agent's profile picture (/avatar), in bytes: the pool refuses a larger download before it reaches the agent. */
  avatarBytes: 2 * 1024 * 1024,
} as const

/** What a model id may look like: one word of letters, digits and . _ : / @ + - (no spaces or control characters). */
export const MODEL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/

/** A model id (templates.json `model`, `/model`, the runtime contract's `model`). */
export const ModelId = Schema.String.check(
  Schema.isMaxLength(LIMITS.modelIdChars, { message: `must be at most ${LIMITS.modelIdChars} characters` }),
  Schema.isPattern(MODEL_ID_PATTERN, {
    message:
      "must be a model id: letters, digits and . _ : / @ + - only (e.g. llama3.2 or anthropic/claude-sonnet-4-6)",
  }),
)

/** Is `id` a model id (the shape ModelId checks)? */
export const isModelId = (id: string) => id.length <= LIMITS.modelIdChars && MODEL_ID_PATTERN.test(id)

/** A number of instances for one replenish or drain request. */
export const PoolCount = Schema.Int.check(
  Schema.isBetween({ minimum: LIMITS.poolCountMin, maximum: LIMITS.poolCountMax }),
)

/** Is `n` a number of instances one request may ask for? */
export const isPoolCount = (n: number) => Number.isInteger(n) && n >= LIMITS.poolCountMin && n <= LIMITS.poolCountMax

/** An agent's instructions (any text up to the limit; the pool refuses control characters). */
export const Instructions = Schema.String.check(
  Schema.isMaxLength(LIMITS.instructionsChars, { message: `must be at most ${LIMITS.instructionsChars} characters` }),
)

/** A template slug's length (each edge also checks its shape). */
export const TemplateSlug = Schema.String.check(
  Schema.isMaxLength(LIMITS.templateSlugChars, { message: `must be at most ${LIMITS.templateSlugChars} characters` }),
)
