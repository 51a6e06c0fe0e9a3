import { createHash, timingSafeEqual } from "node:crypto"
import type { IncomingMessage } from "node:http"

// Constant-time bearer check: both sides are hashed first so neither the length nor the content leaks through timing.
const digest = (s: string) => createHash("sha256").update(s).digest()

export const bearerMatches = (req: IncomingMessage, token: string | null): boolean => {
  if (!token) return false
  const header = req.headers.authorization ?? ""
  const m = /^Bearer\s+(.+)$/i.exec(header)
  return timingSafeEqual(digest(m ? m[1]!.trim() : ""), digest(token)) && m !== null
}
