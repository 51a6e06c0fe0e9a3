// Convos protocol over the Messaging port: invites, group metadata, content types, the creator and joiner flows.
export * from "./contentTypes.ts"
export * from "./creator.ts"
export * from "./errors.ts"
export * from "./invite.ts"
export * from "./joiner.ts"
export * from "./metadata.ts"
export * from "./profileImage.ts"
