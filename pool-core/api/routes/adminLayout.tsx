import type { FC, PropsWithChildren } from "hono/jsx"

// What every admin page shares: the stylesheet (the CSP, api/edge.ts, allows no inline style), the page frame and the
// sign-in form. Pages: the dashboard (admin.tsx), an instance (adminInstance.tsx), the pool history (adminHistory.tsx).

/** Series colours of the charts, in order (the legend's classes .c0…c6 in the stylesheet match). */
export const SERIES_COLOURS = ["#2563eb", "#16a34a", "#d97706", "#7c3aed", "#dc2626", "#6b7280", "#0891b2"] as const

/** The admin stylesheet, served at ADMIN_CSS_PATH. */
export const ADMIN_CSS_PATH = "/admin/assets/admin.css"
export const adminCss = `
body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#111}
.pills a{display:inline-block;margin:0 .4rem .4rem 0;padding:.25rem .7rem;border-radius:1rem;background:#eee;color:#111;text-decoration:none}
.pills a.on{background:#111;color:#fff}
table{border-collapse:collapse;width:100%}td,th{padding:.35rem .5rem;border-bottom:1px solid #ddd;text-align:left;font-size:.9rem}
form.inline{display:inline}.err{color:#b00}.modal{display:none;position:fixed;inset:0;background:#0008}
.modal:target{display:flex;align-items:center;justify-content:center}.modal div{background:#fff;padding:1.5rem;border-radius:.5rem;max-width:24rem}
.modal svg{width:16rem;height:16rem}code{word-break:break-all}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dl.facts dt{font-weight:600}dl.facts dd{margin:0}
pre.log{background:#111;color:#ddd;padding:.75rem;border-radius:.4rem;max-height:28rem;overflow:auto;font-size:.8rem;white-space:pre-wrap;word-break:break-all}
.muted{color:#666}.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(32rem,1fr));gap:1.5rem}
figure.chart{margin:0}figure.chart svg{width:100%;height:auto;background:#fafafa;border:1px solid #ddd;border-radius:.4rem}
figure.chart figcaption{font-weight:600;margin-bottom:.3rem}.legend{font-size:.8rem;margin-top:.3rem}
.legend span{margin-right:.8rem;white-space:nowrap}.legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.25rem;vertical-align:-.1rem;border-radius:.15rem}
${SERIES_COLOURS.map((c, i) => `.c${i}{background:${c}}`).join("")}
`

export const Page: FC<PropsWithChildren<{ title: string }>> = ({ title, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{title}</title>
      <link rel="stylesheet" href={ADMIN_CSS_PATH} />
    </head>
    <body>{children}</body>
  </html>
)

export const Login: FC<{ error?: string }> = ({ error }) => (
  <Page title="Pool admin — sign in">
    <h1>Pool admin</h1>
    {error ? <p class="err">{error}</p> : null}
    <form method="post" action="/admin/login">
      <label>
        API key <input type="password" name="key" autocomplete="current-password" required />
      </label>{" "}
      <button type="submit">Sign in</button>
    </form>
  </Page>
)
