import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import qrcode from "qrcode-terminal"

/**
 * Prints a titled invite link with a terminal QR code, and keeps the link in DATA_DIR/manager-invite.url for `npm run
 * chat`. `dataDir`: the resolved DATA_DIR (read once at start).
 */
export const printInvite = (title: string, url: string, dataDir: string) => {
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(join(dataDir, "manager-invite.url"), `${url}\n`)
  console.log(`\n${title}:\n${url}\n`)
  qrcode.generate(url, { small: true }, (code: string) => console.log(code))
}
