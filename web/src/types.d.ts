// The kept libraries ship no types; only the calls we make are declared.
declare module "qrcode" {
  interface QRCodeToStringOptions {
    readonly type?: "svg" | "utf8" | "terminal"
    readonly margin?: number
    readonly width?: number
    readonly errorCorrectionLevel?: "L" | "M" | "Q" | "H"
    readonly color?: { readonly dark?: string; readonly light?: string }
  }
  // biome-ignore lint/suspicious/noShadowRestrictedNames: the qrcode package's own export name
  export function toString(text: string, options?: QRCodeToStringOptions): Promise<string>
  const QRCode: { toString: typeof toString }
  export default QRCode
}
