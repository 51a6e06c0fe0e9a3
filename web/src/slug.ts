/** Template slugs, as pool-core/domain/template.ts defines them. */
export const slugPattern = /^[a-z0-9]+(-[a-z0-9]+)*$/
