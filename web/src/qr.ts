import QRCode from "qrcode"

/**
 * An SVG QR code of `text`, rendered by the `qrcode` library (never drawn by hand). Large quiet zone and medium error
 * correction so phone cameras read it from a screen at a distance.
 */
export const qrSvg = async (text: string, size = 256): Promise<string> => {
  const svg = await QRCode.toString(text, {
    type: "svg",
    margin: 4,
    width: size,
    errorCorrectionLevel: "M",
    color: { dark: "#000000", light: "#ffffff" },
  })
  // Mark it for screen readers and tests; the library's markup is otherwise kept as is.
  return svg.replace("<svg ", `<svg role="img" aria-label="QR code" class="qr" `)
}
