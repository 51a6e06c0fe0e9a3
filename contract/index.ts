// What the pool, the manager bot, web and the runtime agree on, with no dependency beyond effect: the runtime imports
// it without pulling in the pool (Postgres, PGlite, hono). Names, the table of limits, the runtime HTTP contract, DATA_DIR.
export * from "./names.ts"
export * from "./limits.ts"
export * from "./runtime.ts"
export * from "./pageLink.ts"
export * from "./settings.ts"
