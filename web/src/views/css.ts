// The site's one stylesheet, served at SITE_CSS_PATH: the Content-Security-Policy (pool-core/api/edge.ts) allows
// styles only from this site, so no page carries a <style> element or a style attribute.

export const SITE_CSS_PATH = "/assets/site.css"

export const siteCss = `
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
.qrfig{margin:0}.chat.framed{padding:8px}
`
