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
} as const

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
