// What the pool, the manager bot, web and the runtime agree on, with no dependency beyond effect: the runtime imports
// it without pulling in the pool (Postgres, PGlite, hono).
export * from "./names.ts"
export * from "./limits.ts"
