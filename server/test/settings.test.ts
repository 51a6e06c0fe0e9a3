// One settings layer (issue 17 "Settings and time"): every part reads DATA_DIR through the contract's one Config
// (`DataDir`, contract/settings.ts), and no source file writes process.env: `npm start` hands the settings it derives
// (the devnet invite base) to the system through a ConfigProvider instead.
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"

const root = new URL("../../", import.meta.url).pathname
const sources = execFileSync("git", ["ls-files", "*.ts", "*.tsx", "*.mjs"], { cwd: root, encoding: "utf8" })
  .split("\n")
  .filter((f) => f !== "" && !f.startsWith("runtime/gateway/") && !f.startsWith("bench/"))
  .filter((f) => !/(^|\/)test\/|\.test\.ts$|testing|fake/.test(f))
const text = (f: string) => readFileSync(`${root}${f}`, "utf8")

describe("one settings layer", () => {
  it("no source file writes process.env", () => {
    const writes = sources.filter((f) =>
      /process\.env(\.[A-Za-z_]\w*|\[[^\]]+\])\s*=[^=]|delete process\.env|Object\.assign\(process\.env/.test(text(f)),
    )
    expect(writes).toEqual([])
  })

  it("DATA_DIR is read in one place: the contract's DataDir", () => {
    const readers = sources.filter(
      (f) =>
        f !== "contract/settings.ts" &&
        /Config\.String\("DATA_DIR"\)|stringOr\("DATA_DIR"|process\.env\.DATA_DIR/.test(text(f)),
    )
    expect(readers).toEqual([])
  })
})
