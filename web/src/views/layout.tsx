/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx"
import { raw } from "hono/html"

// One page shell: no client JS, small inline CSS, readable on a phone that just scanned a QR.

const css = `
*{box-sizing:border-box}body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header,main,footer{max-width:960px;margin:0 auto;padding:16px}header a{color:inherit;text-decoration:none;font-weight:700}
a{color:#0a58ca;overflow-wrap:anywhere}.pills{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0;padding:0;list-style:none}
.pill{display:inline-block;padding:4px 12px;border-radius:999px;border:1px solid #ccc;text-decoration:none;color:#333;background:#fff}
.pill[aria-current=page]{background:#1d1d1f;color:#fff;border-color:#1d1d1f}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:16px;padding:0;list-style:none}
.card{background:#fff;border:1px solid #e3e3e3;border-radius:12px;padding:16px}.card h3{margin:0 0 4px}
.tags{display:flex;flex-wrap:wrap;gap:6px;padding:0;margin:8px 0 0;list-style:none}.tag{font-size:12px;background:#eef;padding:2px 8px;border-radius:6px}
.qr{width:256px;height:256px;display:block;background:#fff}.qrbox{display:flex;gap:24px;flex-wrap:wrap;align-items:center}
.button{display:inline-block;padding:10px 18px;border-radius:8px;border:0;background:#0a58ca;color:#fff;font-size:16px;cursor:pointer;text-decoration:none}
input[type=url],input[type=text]{width:100%;max-width:560px;padding:8px;font-size:16px;border:1px solid #bbb;border-radius:6px}
.error{background:#fff0f0;border:1px solid #e99;border-radius:8px;padding:12px}.note{color:#555;font-size:14px}
code{background:#f0f0f0;padding:1px 4px;border-radius:4px;word-break:break-all}
.chat{list-style:none;padding:0}.chat li{margin:6px 0}.chat .system{color:#777;font-style:italic}.chat .mine .who{color:#0a58ca}
.who{font-weight:600;margin-right:6px}.chat .text{white-space:pre-wrap}iframe.messages{width:100%;height:55vh;border:1px solid #ddd;border-radius:8px;background:#fff}
`

export interface Meta {
  readonly title: string
  readonly description?: string
  /** Link-preview image; its URL absolute, with size and type so previews lay out before fetching it. */
  readonly ogImage?: { readonly url: string; readonly width: number; readonly height: number; readonly type: string; readonly alt: string }
  /** Absolute URL. */
  readonly canonical?: string
  /** Seconds: the page reloads itself (the only "live" mechanism, no JS). */
  readonly refresh?: number
}

export const Layout = (props: { readonly meta: Meta; readonly children?: Child; readonly bare?: boolean }) => {
  const { meta } = props
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{meta.title}</title>
        {meta.description ? <meta name="description" content={meta.description} /> : null}
        {meta.refresh ? <meta http-equiv="refresh" content={String(meta.refresh)} /> : null}
        <meta property="og:title" content={meta.title} />
        {meta.description ? <meta property="og:description" content={meta.description} /> : null}
        <meta property="og:type" content="website" />
        {meta.canonical ? <meta property="og:url" content={meta.canonical} /> : null}
        {meta.ogImage ? (
          <>
            <meta property="og:image" content={meta.ogImage.url} />
            <meta property="og:image:type" content={meta.ogImage.type} />
            <meta property="og:image:width" content={String(meta.ogImage.width)} />
            <meta property="og:image:height" content={String(meta.ogImage.height)} />
            <meta property="og:image:alt" content={meta.ogImage.alt} />
            <meta name="twitter:card" content="summary_large_image" />
            <meta name="twitter:image" content={meta.ogImage.url} />
          </>
        ) : null}
        <style>{raw(css)}</style>
      </head>
      <body>
        {props.bare ? (
          props.children
        ) : (
          <>
            <header>
              <a href="/">Convos agents</a>
            </header>
            <main>{props.children}</main>
            <footer class="note">AI agents for your Convos group chats.</footer>
          </>
        )}
      </body>
    </html>
  )
}

/** An SVG string from the qrcode library, inlined. */
export const Qr = (props: { readonly svg: string; readonly text: string }) => (
  <figure data-qr-text={props.text} style="margin:0">
    {raw(props.svg)}
  </figure>
)

export const Skills = (props: { readonly skills: ReadonlyArray<string> }) =>
  props.skills.length ? (
    <ul class="tags" aria-label="skills">
      {props.skills.map((s) => (
        <li class="tag">{s}</li>
      ))}
    </ul>
  ) : null
