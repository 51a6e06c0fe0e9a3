// Fetching an image from a URL a person typed (/avatar <agent> <url>) without letting them use the pool to probe the
// network it sits in: http(s) only, every address the host resolves to (and every redirect hop, at most 3) must be
// public unless the host:port is listed in AVATAR_FETCH_ALLOW_PRIVATE, the address checked is the one connected to
// (the check runs in the socket's own DNS lookup, so a name cannot resolve public for the check and private for the
// connection), a size cap counted while reading, an overall time limit, and the type taken from the bytes themselves.
import { lookup as dnsLookup, type LookupAddress } from "node:dns"
import { request as httpRequest, type IncomingMessage } from "node:http"
import { request as httpsRequest } from "node:https"
import { BlockList, isIP } from "node:net"
import { Duration, Effect } from "effect"
import { InvalidRequest } from "../../domain/errors.ts"

export interface ImageFetchSettings {
  /** host:port pairs that may be fetched even though they are loopback/private (AVATAR_FETCH_ALLOW_PRIVATE; tests). */
  readonly allowPrivate: ReadonlyArray<string>
  readonly maxBytes: number
  readonly timeout: Duration.Duration
}

export const AVATAR_MAX_BYTES = 2 * 1024 * 1024
export const defaultImageFetch: ImageFetchSettings = {
  allowPrivate: [],
  maxBytes: AVATAR_MAX_BYTES,
  timeout: Duration.seconds(10),
}

export type ImageType = "image/png" | "image/jpeg" | "image/webp" | "image/gif"
export interface FetchedImage {
  readonly bytes: Uint8Array
  readonly contentType: ImageType
}

// Two lists: a BlockList holding IPv6 rules also matches IPv4 addresses as IPv4-mapped (::ffff:0:0/96 would match
// every IPv4 address), so each family is checked against its own rules only.
const blocked4 = new BlockList()
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const)
  blocked4.addSubnet(net, prefix, "ipv4")
const blocked6 = new BlockList()
for (const [net, prefix] of [
  ["::", 96], // unspecified, loopback, IPv4-compatible
  ["::ffff:0:0", 96], // IPv4-mapped: would reach any IPv4 address
  ["64:ff9b::", 96], // NAT64
  ["100::", 64],
  ["2001:db8::", 32],
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["ff00::", 8], // multicast
] as const)
  blocked6.addSubnet(net, prefix, "ipv6")

/** Loopback, private, link-local, shared, reserved or multicast: not an address a stranger's URL may reach. */
export const isPrivateAddress = (address: string): boolean => {
  const family = isIP(address)
  if (family === 4) return blocked4.check(address, "ipv4")
  if (family === 6) return blocked6.check(address, "ipv6")
  return true
}

const refuse = (message: string) => new InvalidRequest({ field: "image", message })

class PrivateTarget extends Error {}

/** Magic bytes: PNG, JPEG, GIF87a/89a, RIFF…WEBP. */
export const sniffImageType = (b: Uint8Array): ImageType | null => {
  const at = (i: number, ...xs: number[]) => xs.every((x, k) => b[i + k] === x)
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "image/png"
  if (at(0, 0xff, 0xd8, 0xff)) return "image/jpeg"
  if (at(0, 0x47, 0x49, 0x46, 0x38) && (b[4] === 0x37 || b[4] === 0x39) && b[5] === 0x61) return "image/gif"
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return "image/webp"
  return null
}

const sizeLine = (max: number) => `${Math.round((max / 1024 / 1024) * 10) / 10} MB`

/** One request (no redirect following); resolves with the response, or the redirect target. */
const requestOnce = (url: URL, s: ImageFetchSettings, signal: AbortSignal) =>
  new Promise<{ readonly response: IncomingMessage }>((resolve, reject) => {
    const port = url.port || (url.protocol === "https:" ? "443" : "80")
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1")
    const allowed = s.allowPrivate.includes(`${url.hostname}:${port}`)
    if (!allowed && isIP(host) !== 0 && isPrivateAddress(host)) return reject(new PrivateTarget(host))
    // Runs for the connection itself: what is checked is what is connected to.
    const lookup = (
      hostname: string,
      options: { all?: boolean; family?: number | string },
      callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
    ) =>
      dnsLookup(hostname, { all: true }, (err, addresses) => {
        if (err) return callback(err, "")
        const bad = addresses.find((a) => isPrivateAddress(a.address))
        if (bad && !allowed) return callback(new PrivateTarget(bad.address), "")
        if (options.all) return callback(null, addresses)
        callback(null, addresses[0]!.address, addresses[0]!.family)
      })
    const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, {
      method: "GET",
      agent: false,
      lookup: lookup as never,
      signal,
      headers: { accept: "image/png, image/jpeg, image/webp, image/gif", "user-agent": "convos-agents-avatar/1" },
    })
    req.on("response", (response) => resolve({ response }))
    req.on("error", reject)
    req.end()
  })

const readCapped = (response: IncomingMessage, max: number) =>
  new Promise<Uint8Array | "too-large">((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    response.on("data", (c: Buffer) => {
      size += c.length
      if (size > max) {
        response.destroy()
        resolve("too-large")
      } else chunks.push(c)
    })
    response.on("end", () => resolve(new Uint8Array(Buffer.concat(chunks))))
    response.on("error", reject)
  })

const fetchAll = async (raw: string, s: ImageFetchSettings, signal: AbortSignal): Promise<FetchedImage> => {
  let url: URL
  try {
    url = new URL(raw.trim())
  } catch {
    throw refuse("That is not a web address. Send a link such as https://example.com/picture.png.")
  }
  for (let hop = 0; ; hop++) {
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw refuse(`Only http and https image links work (got ${url.protocol}); send a https:// link to the picture.`)
    if (url.username || url.password) throw refuse("Send the image link without a user name or password in it.")
    let response: IncomingMessage
    try {
      response = (await requestOnce(url, s, signal)).response
    } catch (e) {
      if (e instanceof PrivateTarget)
        throw refuse(
          `That link points into a private network (${url.hostname}), which I do not fetch from; send a link to a picture on the public web.`,
        )
      if (signal.aborted) throw e
      throw refuse(
        `I could not reach ${url.hostname} (${(e as Error).message}); check the link opens in a browser and send it again.`,
      )
    }
    const status = response.statusCode ?? 0
    if (status >= 300 && status < 400 && response.headers.location) {
      response.destroy()
      if (hop >= 3) throw refuse("That link redirects too many times; send the picture's direct link.")
      url = new URL(response.headers.location, url)
      continue
    }
    if (status !== 200) {
      response.destroy()
      throw refuse(
        `The image link answered ${status} instead of the picture; check it opens in a browser and send it again.`,
      )
    }
    const declared = Number(response.headers["content-length"] ?? Number.NaN)
    const tooLarge = refuse(
      `That picture is larger than ${sizeLine(s.maxBytes)}; send a smaller one (a 512×512 PNG or JPEG is plenty).`,
    )
    if (declared > s.maxBytes) {
      response.destroy()
      throw tooLarge
    }
    const bytes = await readCapped(response, s.maxBytes)
    if (bytes === "too-large") throw tooLarge
    const contentType = sniffImageType(bytes)
    if (!contentType)
      throw refuse("That link is not a PNG, JPEG, WebP or GIF picture; send a direct link to the image file itself.")
    return { bytes, contentType }
  }
}

/** The image at `url`, within the limits above; every refusal is one line saying what to send instead. */
export const fetchImage = (url: string, s: ImageFetchSettings): Effect.Effect<FetchedImage, InvalidRequest> =>
  Effect.tryPromise({
    try: (signal) => fetchAll(url, s, signal),
    catch: (e) =>
      e instanceof InvalidRequest
        ? e
        : refuse("I could not fetch that picture; check the link opens in a browser and send it again."),
  }).pipe(
    Effect.timeoutOrElse({
      duration: s.timeout,
      orElse: () =>
        Effect.fail(
          refuse(
            `The image link did not answer within ${Duration.format(s.timeout)}; send a link to a faster host, or try again later.`,
          ),
        ),
    }),
  )
