import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["{contract,messaging,pool-core,manager-bot,runtime,web,server}/**/*.test.ts", "bench/**/*.test.ts"],
    exclude: ["**/node_modules/**", ".data/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // 2-core machines: a few files at once keeps PGlite/OpenClaw start-up from starving each other.
    maxWorkers: 3,
    reporters: ["default"],
  },
})
