export * from "./errors.ts"
export * from "./instance.ts"
export * from "./template.ts"
