/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx"
import { raw } from "hono/html"
import { SITE_CSS_PATH } from "./css.ts"

// One page shell: no client JS and nothing inline (the CSP allows neither script nor inline style: the stylesheet is
// /assets/site.css, views/css.ts), readable on a phone that just scanned a QR.

export interface Meta {
  readonly title: string
  readonly description?: string
  /** Link-preview image; its URL absolute, with size and type so previews lay out before fetching it. */
  readonly ogImage?: {
    readonly url: string
    readonly width: number
    readonly height: number
    readonly type: string
    readonly alt: string
  }
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
        <link rel="stylesheet" href={SITE_CSS_PATH} />
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
  <figure class="qrfig" data-qr-text={props.text}>
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
