// pngjs ships no types; only what the browser test uses.
declare module "pngjs" {
  export class PNG {
    readonly width: number
    readonly height: number
    readonly data: Buffer
    static sync: { read(buffer: Buffer): PNG }
  }
}
