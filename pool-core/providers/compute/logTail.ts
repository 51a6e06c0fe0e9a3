import { closeSync, fstatSync, openSync, readSync } from "node:fs"

// The tail of an agent's runtime log for the admin instance page: the last bytes of a file, cut at a line start, with
// anything that looks like a credential masked (the page is behind the API key, but a log tail is easily pasted on).

/** Keys and bearer tokens that a runtime might print: OpenRouter/OpenAI-style keys, `Bearer …`, `*_KEY=…`/`*_TOKEN=…`. */
const SECRETS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bsk-[A-Za-z0-9_-]{8,}/g, "sk-…(masked)"],
  [/\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, "$1…(masked)"],
  [/\b([A-Z][A-Z0-9_]*(?:KEY|TOKEN|SECRET)=)\S+/g, "$1…(masked)"],
]

export const maskSecrets = (text: string) => SECRETS.reduce((t, [re, by]) => t.replace(re, by), text)

/** The last `maxBytes` of `bytes` as text (whole lines: a partial first line is dropped), secrets masked. */
export const tailOf = (bytes: Uint8Array, maxBytes: number): string => {
  const start = Math.max(0, bytes.length - maxBytes)
  let text = Buffer.from(bytes.buffer, bytes.byteOffset + start, bytes.length - start).toString("utf8")
  if (start > 0) {
    const newline = text.indexOf("\n")
    text = newline === -1 ? "" : text.slice(newline + 1)
  }
  return maskSecrets(text)
}

/**
 * The last `maxBytes` of `path` (whole lines: a partial first line is dropped), secrets masked. null when the file
 * does not exist.
 */
export const readLogTail = (path: string, maxBytes: number): string | null => {
  let fd: number
  try {
    fd = openSync(path, "r")
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null
    throw e
  }
  try {
    const size = fstatSync(fd).size
    const start = Math.max(0, size - maxBytes)
    const buffer = Buffer.alloc(size - start)
    const read = readSync(fd, buffer, 0, buffer.length, start)
    let text = buffer.subarray(0, read).toString("utf8")
    if (start > 0) {
      const newline = text.indexOf("\n")
      text = newline === -1 ? "" : text.slice(newline + 1)
    }
    return maskSecrets(text)
  } finally {
    closeSync(fd)
  }
}
