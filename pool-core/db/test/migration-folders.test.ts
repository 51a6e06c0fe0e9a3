import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { coreMigrationsFolder, migrationFiles } from "../migrations.ts"

// One loader merges every part's migrations folder; the ids are shared by all parts.

const folderWith = (...files: ReadonlyArray<string>) => {
  const dir = mkdtempSync(join(tmpdir(), "convos-migration-folder-"))
  for (const f of files) writeFileSync(join(dir, f), "export default null\n")
  return dir
}

describe("migration folders", () => {
  it("merges the folders' migration files, skipping tests and declarations", () => {
    const part = folderWith("9990_part_table.ts", "9990_part_table.test.ts", "notes.md", "9991_x.d.ts")
    try {
      const files = migrationFiles([coreMigrationsFolder, part])
      const core = readdirSync(coreMigrationsFolder).filter((f) => /^\d+_.+\.ts$/.test(f))
      expect(core).toContain("0001_core.ts")
      expect([...files.keys()].sort()).toEqual([...core, "9990_part_table.ts"].sort())
      expect(files.get("9990_part_table.ts")).toBe(join(part, "9990_part_table.ts"))
    } finally {
      rmSync(part, { recursive: true, force: true })
    }
  })

  it("refuses two files with one id in different parts, naming both", () => {
    const part = folderWith("0001_other_part.ts")
    try {
      expect(() => migrationFiles([coreMigrationsFolder, part])).toThrow(
        /Two migrations have the id 1: .*0001_other_part\.ts and .*0001_core\.ts/,
      )
      // A tagged error, like every error of the pool (the start-up report names it).
      expect(() => migrationFiles([coreMigrationsFolder, part])).toThrow(
        expect.objectContaining({ _tag: "DatabaseError" }),
      )
    } finally {
      rmSync(part, { recursive: true, force: true })
    }
  })
})
