// Shared DOM helpers for the pages. Text from articles and answers reaches the page only as
// text nodes (textContent / append(string)), never through innerHTML, and links to the outside
// only through safeHttpUrl, so an article cannot inject markup, scripts or javascript: URLs.

/**
 * The path prefix the service is served under behind a reverse proxy (NEWSQA_ROOT_PATH, e.g.
 * "/newsqa"; "" when served at the root): the server writes it into the page's
 * <meta name="newsqa-root">, and every URL of the API or the pages starts with it.
 */
export const ROOT = document.querySelector('meta[name="newsqa-root"]')?.content ?? "";

/** Create an element; attrs.text sets textContent, children may be nodes or plain strings. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child); // strings become text nodes
  }
  return node;
}

/** The URL if it is an absolute http(s) URL, else null (no javascript:, data:, ...). */
export function safeHttpUrl(value) {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * What a link or heading names an article by: its title, or its id for an article indexed
 * without one (a record with no title field). An empty title made an empty link, invisible
 * and unclickable, and a screen reader's bare "link".
 */
export function articleTitle(title, articleId) {
  return typeof title === "string" && title.trim() ? title : articleId;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "25 Nov 2020": the calendar date as the publisher wrote it, not shifted to the reader's zone. */
export function formatDate(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(typeof iso === "string" ? iso : "");
  if (!m) return null;
  return `${Number(m[3])} ${MONTHS[Number(m[2]) - 1]} ${m[1]}`;
}

const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/**
 * "Mon 20 Oct 2025", or "13 Oct 2025 – 19 Oct 2025" for an event interval (ISO days, as
 * GET /timeline and `events` give them); a whole month or year is named as such.
 */
export function formatInterval(start, end) {
  const day = (iso) => {
    const [y, m, d] = iso.split("-").map(Number);
    return { y, m, d, weekday: WEEKDAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()] };
  };
  const a = day(start);
  const b = day(end);
  if (start === end) return `${a.weekday.slice(0, 3)} ${formatDate(start)}`;
  const lastOfMonth = new Date(Date.UTC(b.y, b.m, 0)).getUTCDate();
  if (a.d === 1 && b.d === lastOfMonth) {
    if (a.m === 1 && b.m === 12) return a.y === b.y ? `${a.y}` : `${a.y}–${b.y}`;
    if (a.y === b.y && a.m === b.m) return `${MONTHS[a.m - 1]} ${a.y}`;
  }
  return `${formatDate(start)} – ${formatDate(end)}`;
}

/** A <p class="meta"> line: date, outlet, category and a link to the original page. */
export function metaLine({ published, source, category, url }) {
  const parts = [];
  const date = formatDate(published);
  if (date) parts.push(el("time", { datetime: published }, date));
  if (source) parts.push(el("span", { class: "source" }, source));
  if (category) parts.push(el("span", { class: "category" }, category));
  const href = safeHttpUrl(url);
  if (href) {
    const host = new URL(href).hostname.replace(/^www\./, "");
    parts.push(
      el(
        "a",
        { class: "original", href, rel: "noopener noreferrer", target: "_blank" },
        `${host} `,
        el("span", { "aria-hidden": "true" }, "\u2197"),
        el("span", { class: "visually-hidden" }, "(original page, opens in a new tab)"),
      ),
    );
  }
  const line = el("p", { class: "meta" });
  parts.forEach((part, i) => {
    if (i) line.append(el("span", { class: "sep", "aria-hidden": "true" }, " \u00b7 "));
    line.append(part);
  });
  return line;
}

/** The reader page for an article, with the span [start, end) of its text highlighted. */
export function readerHref(articleId, start, end, n) {
  const params = new URLSearchParams();
  if (Number.isInteger(start) && Number.isInteger(end)) {
    params.set("char_start", String(start));
    params.set("char_end", String(end));
  }
  if (n !== undefined && n !== null) params.set("n", String(n));
  const query = params.toString();
  return `${ROOT}/read/${encodeURIComponent(articleId)}${query ? `?${query}` : ""}`;
}

/**
 * The JavaScript string index (UTF-16 code units) of the code point offset `cp` in `text`.
 * The API's offsets (char_start, char_end, passage highlights) count code points, as Python
 * strings do; an emoji or any character outside the BMP is one code point but two UTF-16
 * units, so every offset is converted before it indexes into text. null when `cp` is not an
 * integer between 0 and the number of code points in `text`.
 */
export function cpToUtf16(text, cp) {
  if (!Number.isInteger(cp) || cp < 0) return null;
  let index = 0;
  for (let seen = 0; seen < cp; seen++) {
    if (index >= text.length) return null;
    index += text.codePointAt(index) > 0xffff ? 2 : 1;
  }
  return index;
}

/** Code point spans [[start, end], ...] of `text` as UTF-16 spans; spans outside it drop. */
export function spansToUtf16(text, spans) {
  return (spans || [])
    .map(([start, end]) => [cpToUtf16(text, start), cpToUtf16(text, end)])
    .filter(([start, end]) => start !== null && end !== null);
}

/** Sorted, clipped, merged, non-empty spans. */
function normaliseSpans(spans, length) {
  const clipped = (spans || [])
    .map(([s, e]) => [Math.max(0, s), Math.min(length, e)])
    .filter(([s, e]) => Number.isInteger(s) && Number.isInteger(e) && s < e)
    .sort((a, b) => a[0] - b[0]);
  const merged = [];
  for (const span of clipped) {
    const last = merged[merged.length - 1];
    if (last && span[0] <= last[1]) last[1] = Math.max(last[1], span[1]);
    else merged.push([...span]);
  }
  return merged;
}

/** Append `text` to `parent`, the [start, end) spans wrapped in <mark>; returns the marks. */
export function appendMarked(parent, text, spans, markAttrs = {}) {
  const marks = [];
  let pos = 0;
  for (const [start, end] of normaliseSpans(spans, text.length)) {
    if (start > pos) parent.append(text.slice(pos, start));
    const mark = el("mark", markAttrs, text.slice(start, end));
    parent.append(mark);
    marks.push(mark);
    pos = end;
  }
  if (pos < text.length) parent.append(text.slice(pos));
  return marks;
}

/** Like appendMarked, but only about `radius` characters around `focus`, cut at spaces. */
export function appendExcerpt(parent, text, spans, focus, radius, markAttrs = {}) {
  let [a, b] = [Math.max(0, focus[0] - radius), Math.min(text.length, focus[1] + radius)];
  if (a > 0) {
    const space = text.indexOf(" ", a);
    if (space !== -1 && space < focus[0]) a = space + 1;
  }
  if (b < text.length) {
    const space = text.lastIndexOf(" ", b);
    if (space > focus[1]) b = space;
  }
  if (a > 0) parent.append("\u2026 ");
  const shifted = (spans || []).map(([s, e]) => [s - a, e - a]);
  const marks = appendMarked(parent, text.slice(a, b), shifted, markAttrs);
  if (b < text.length) parent.append(" \u2026");
  return marks;
}

/** A readable message from an API error body (FastAPI's 422 lists the fields). */
export function errorMessage(status, body) {
  const detail = body && body.detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => {
        const loc = Array.isArray(d.loc) ? d.loc.filter((p) => p !== "body").join(".") : "";
        return loc ? `${loc}: ${d.msg}` : String(d.msg);
      })
      .join("; ");
  }
  if (typeof detail === "string") return detail;
  return `The service answered with HTTP ${status}.`;
}
