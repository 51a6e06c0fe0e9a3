// A tiny browser-like HTTP client for page tests: keeps cookies, never follows redirects on its own.

export class Visitor {
  private readonly cookies = new Map<string, string>()
  constructor(
    readonly base: string,
    private readonly headers: Record<string, string> = {},
  ) {}

  async request(path: string, init: { method?: string; form?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...this.headers }
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ")
    let body: string | undefined
    if (init.form) {
      headers["content-type"] = "application/x-www-form-urlencoded"
      // What a browser sends with every form post (hono csrf refuses a post without it).
      headers.origin ??= new URL(this.base).origin
      body = new URLSearchParams(init.form).toString()
    }
    const res = await fetch(new URL(path, this.base), {
      method: init.method ?? (init.form ? "POST" : "GET"),
      headers,
      body,
      redirect: "manual",
    })
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";")
      const i = pair!.indexOf("=")
      this.cookies.set(pair!.slice(0, i), pair!.slice(i + 1))
    }
    const text = await res.text()
    return { status: res.status, location: res.headers.get("location"), headers: res.headers, text }
  }

  get = (path: string) => this.request(path)
  post = (path: string, form: Record<string, string>) => this.request(path, { form })
}

/** Decodes the HTML entities hono's JSX escaping produces, for comparing attribute values. */
export const unescapeHtml = (s: string) =>
  s
    .replace(/&amp;/g, "&")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")

export const hrefOf = (html: string, id: string) => {
  const m = new RegExp(`id="${id}" href="([^"]+)"`).exec(html)
  return m ? unescapeHtml(m[1]!) : null
}

/** The content of `<meta property="…">` in a page, unescaped. */
export const metaContent = (html: string, property: string) => {
  const m = new RegExp(`<meta property="${property}" content="([^"]*)"/>`).exec(html)
  return m ? unescapeHtml(m[1]!) : null
}
