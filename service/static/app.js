// The question page: POST /ask, then the answer with [n] markers, one card per citation and
// the nearest passages; or (the Timeline button) GET /timeline, the dated sentences of the
// stories found, earliest first. The question, filters and view live in the page URL
// (?q=&from=&to=&category=&view=) so Back from an article returns to the same results and a
// result can be linked to.
import {
  appendExcerpt,
  articleTitle,
  appendMarked,
  cpToUtf16,
  el,
  errorMessage,
  formatInterval,
  metaLine,
  readerHref,
  ROOT,
  spansToUtf16,
} from "./common.js";

const form = document.getElementById("ask-form");
const question = document.getElementById("question");
const publishedFrom = document.getElementById("published-from");
const publishedTo = document.getElementById("published-to");
const category = document.getElementById("category");
const categoryList = document.getElementById("categories");
const buttons = [document.getElementById("ask-button"), document.getElementById("timeline-button")];
const statusLine = document.getElementById("status");
const results = document.getElementById("results");

const knownCategories = new Set();
let requestSeq = 0;

function paramsFromForm() {
  const params = new URLSearchParams();
  params.set("q", question.value.trim());
  if (publishedFrom.value) params.set("from", publishedFrom.value);
  if (publishedTo.value) params.set("to", publishedTo.value);
  if (category.value.trim()) params.set("category", category.value.trim());
  return params;
}

/** The filters as GET /timeline's query parameters (the same bare days as for /ask). */
function timelineQuery(params) {
  const query = new URLSearchParams({ q: params.get("q") });
  const body = requestBody(params);
  for (const [key, value] of Object.entries(body.filters || {})) query.set(key, value);
  return query;
}

function fillForm(params) {
  question.value = params.get("q") || "";
  publishedFrom.value = params.get("from") || "";
  publishedTo.value = params.get("to") || "";
  category.value = params.get("category") || "";
}

function requestBody(params) {
  const body = { question: params.get("q") };
  const filters = {};
  const from = params.get("from");
  const to = params.get("to");
  // Bare days: the API reads them as whole days of the publishers' calendar (Jakarta time),
  // the calendar the dates on the page are shown in. The reader's own time zone made a filter
  // for 21 Oct keep an article shown as 22 Oct and drop one shown as 21 Oct.
  if (from) filters.published_from = from;
  if (to) filters.published_to = to;
  if (params.get("category")) filters.category = params.get("category");
  if (Object.keys(filters).length) body.filters = filters;
  return body;
}

function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}

function setBusy(busy) {
  for (const button of buttons) button.disabled = busy;
  results.setAttribute("aria-busy", busy ? "true" : "false");
}

async function run(params) {
  const seq = ++requestSeq;
  const from = params.get("from");
  const to = params.get("to");
  if (from && to && from > to) {
    results.replaceChildren();
    setStatus("\u201cPublished from\u201d is after \u201cPublished to\u201d: nothing can match.", true);
    return;
  }
  setBusy(true);
  setStatus("Searching the articles\u2026");
  const timeline = params.get("view") === "timeline";
  try {
    const response = timeline
      ? await fetch(`${ROOT}/timeline?${timelineQuery(params)}`, { headers: { accept: "application/json" } })
      : await fetch(`${ROOT}/ask`, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json" },
          body: JSON.stringify(requestBody(params)),
        });
    const data = await response.json().catch(() => null);
    if (seq !== requestSeq) return; // a newer question was asked meanwhile
    if (!response.ok || !data) {
      results.replaceChildren();
      setStatus(`Could not answer: ${errorMessage(response.status, data)}`, true);
      return;
    }
    if (timeline) renderTimeline(data);
    else render(data);
  } catch (err) {
    if (seq !== requestSeq) return;
    results.replaceChildren();
    setStatus(`Could not reach the service (${err.message}).`, true);
  } finally {
    if (seq === requestSeq) setBusy(false);
  }
}

/** A marker [n] linking to citation card n. */
function citeRef(citation) {
  return el(
    "a",
    {
      class: "cite-ref",
      href: `#cite-${citation.n}`,
      "data-n": citation.n,
      "aria-label": `Citation ${citation.n}: ${articleTitle(citation.title, citation.article_id)}`,
    },
    `[${citation.n}]`,
  );
}

/** The short answers in bold, each followed by a link to the citation that quotes it. */
function shortAnswerLine(data, citationsByN) {
  const p = el("p", { id: "short-answers", class: "short-answers", lang: data.evidence_language });
  data.short_answers.forEach((s, i) => {
    if (i > 0) p.append(" \u00b7 ");
    p.append(el("strong", { class: "short-answer" }, s.text));
    const citation = citationsByN.get(s.n);
    if (citation) {
      p.append(" ", citeRef(citation));
    }
  });
  return p;
}

/** The answer text with each [n] turned into a link to citation card n. */
function answerParagraph(data, citationsByN) {
  const p = el("p", { id: "answer-text", class: "answer-text", lang: data.evidence_language });
  const marker = /\[(\d+)\]/g;
  let pos = 0;
  for (const match of data.answer.matchAll(marker)) {
    const citation = citationsByN.get(Number(match[1]));
    // A marker follows its citation's quote and a space ("quote [n]"): a "[2]" that an
    // article's own text holds is text, not a link to citation 2.
    if (!citation || !data.answer.slice(0, match.index).endsWith(`${citation.quote} `)) continue;
    if (match.index > pos) p.append(data.answer.slice(pos, match.index));
    p.append(citeRef(citation));
    pos = match.index + match[0].length;
  }
  if (pos < data.answer.length) p.append(data.answer.slice(pos));
  return p;
}

/** The passage a citation's quote sits in, with the quote's (UTF-16) offsets inside it. */
function quoteContext(citation, passages) {
  for (const p of passages) {
    if (p.article_id !== citation.article_id) continue;
    if (p.char_start <= citation.char_start && citation.char_end <= p.char_end) {
      // the API's offsets count code points; quote.length counts UTF-16 units, as slice does
      const start = cpToUtf16(p.text, citation.char_start - p.char_start);
      if (start !== null && p.text.slice(start, start + citation.quote.length) === citation.quote) {
        return { text: p.text, start, end: start + citation.quote.length };
      }
    }
    const found = p.text.indexOf(citation.quote);
    if (found !== -1) return { text: p.text, start: found, end: found + citation.quote.length };
  }
  return null;
}

function citationCard(citation, passages, lang) {
  const href = readerHref(citation.article_id, citation.char_start, citation.char_end, citation.n);
  const article = passages.find((p) => p.article_id === citation.article_id) || {};
  const titleId = `cite-${citation.n}-title`;
  const title = articleTitle(citation.title, citation.article_id);
  const card = el("li", {
    class: "card citation",
    id: `cite-${citation.n}`,
    tabindex: "-1",
    "aria-labelledby": titleId,
    "data-article-id": citation.article_id,
  });
  card.append(
    el(
      "h3",
      { id: titleId },
      el("span", { class: "n" }, `[${citation.n}] `),
      el("a", { class: "article-link", href }, title),
    ),
    metaLine({
      published: citation.published,
      source: article.source,
      category: article.category,
      url: citation.url,
    }),
  );
  const passage = el("blockquote", { class: "passage", lang });
  const context = quoteContext(citation, passages);
  if (context) {
    appendExcerpt(passage, context.text, [[context.start, context.end]], [context.start, context.end], 240, {
      class: "quote",
    });
  } else {
    passage.append(el("mark", { class: "quote" }, citation.quote));
  }
  card.append(passage);
  const dates = eventDates(citation.events || []);
  if (dates) card.append(dates);
  const also = alsoReported(article.also_reported_by);
  if (also) card.append(also);
  card.append(
    el(
      "p",
      { class: "open" },
      el("a", { class: "open-link", href, "aria-label": `Read “${title}” with quote ${citation.n} highlighted` },
        "Read the article, quote highlighted \u2192"),
    ),
  );
  return card;
}

/** "Also reported by Outlet A, Outlet B": the story's other copies, each linked. */
function alsoReported(copies) {
  if (!copies || !copies.length) return null;
  const line = el("p", { class: "also-reported" }, "Also reported by ");
  copies.forEach((copy, i) => {
    if (i) line.append(", ");
    line.append(
      el(
        "a",
        { href: readerHref(copy.article_id), title: copy.title || null },
        copy.source || articleTitle(copy.title, copy.article_id),
      ),
    );
  });
  return line;
}

/** "kemarin → Mon 20 Oct 2025": what the quote's time expressions resolve to. */
function eventDates(events) {
  if (!events.length) return null;
  const line = el("p", { class: "event-dates" });
  events.forEach((e, i) => {
    if (i) line.append(" · ");
    line.append(el("span", { class: "expr" }, e.text), ` → ${formatInterval(e.start, e.end)}`);
  });
  return line;
}

function timelineItem(entry) {
  const href = readerHref(entry.article_id, entry.char_start, entry.char_end);
  const item = el("li", { class: "card timeline-entry", "data-article-id": entry.article_id });
  const quote = el("blockquote", { class: "passage" });
  const start = entry.expression_start - entry.char_start;
  const end = entry.expression_end - entry.char_start;
  appendMarked(quote, entry.quote, spansToUtf16(entry.quote, [[start, end]]), { class: "expr-mark" });
  item.append(
    el("p", { class: "when" }, formatInterval(entry.start, entry.end)),
    quote,
    el("h3", {}, el("a", { class: "article-link", href }, articleTitle(entry.title, entry.article_id))),
    metaLine(entry),
  );
  return item;
}

function renderTimeline(data) {
  results.replaceChildren();
  document.title = `${data.query}: timeline: newsqa`;
  const n = data.events.length;
  results.append(
    el(
      "section",
      { id: "timeline", "aria-labelledby": "timeline-title" },
      el("h2", { id: "timeline-title" }, "Timeline"),
      n
        ? el("ol", { class: "cards timeline" }, ...data.events.map(timelineItem))
        : el("p", {}, "The articles found name no dates."),
    ),
  );
  setStatus(`Timeline: ${n} dated sentence${n === 1 ? "" : "s"}, earliest first.`);
}

function passageCard(passage) {
  const href = readerHref(passage.article_id, passage.char_start, passage.char_end);
  const card = el("li", { class: "card passage-card", "data-article-id": passage.article_id });
  card.append(
    el("h3", {}, el("a", { class: "article-link", href }, articleTitle(passage.title, passage.article_id))),
    metaLine(passage),
  );
  const text = el("blockquote", { class: "passage" });
  const highlights = spansToUtf16(passage.text, passage.highlights); // code points -> UTF-16
  appendExcerpt(text, passage.text, highlights, highlights[0] || [0, 0], 200, { class: "term" });
  card.append(text);
  const also = alsoReported(passage.also_reported_by);
  if (also) card.append(also);
  return card;
}

function passageList(passages) {
  return el("ol", { class: "cards passages" }, ...passages.map(passageCard));
}

function rememberCategories(passages) {
  for (const p of passages) {
    if (p.category && !knownCategories.has(p.category)) {
      knownCategories.add(p.category);
      categoryList.append(el("option", { value: p.category }));
    }
  }
}

function render(data) {
  results.replaceChildren();
  rememberCategories(data.passages);
  const count = data.passages.length;
  document.title = `${data.question}: newsqa`;

  if (data.abstained || data.answer === null) {
    const box = el(
      "section",
      { id: "no-answer", class: "no-answer", "aria-labelledby": "no-answer-title" },
      el("h2", { id: "no-answer-title" }, "No answer found"),
      el(
        "p",
        {},
        "None of the articles states an answer clearly enough to quote " +
          `(confidence ${data.confidence.toFixed(2)}). ` +
          (count ? "The nearest passages are listed below; they may still help." : "No passage matched."),
      ),
    );
    results.append(box);
    if (count) {
      results.append(
        el(
          "section",
          { id: "nearest", "aria-labelledby": "nearest-title" },
          el("h2", { id: "nearest-title" }, "Nearest passages"),
          passageList(data.passages),
        ),
      );
    }
    setStatus(`No answer found. ${count} nearest passage${count === 1 ? "" : "s"} listed.`);
    return;
  }

  const citationsByN = new Map(data.citations.map((c) => [c.n, c]));
  const total = data.timings_ms && data.timings_ms.total;
  results.append(
    el(
      "section",
      { id: "answer", class: "answer", "aria-labelledby": "answer-title" },
      el("h2", { id: "answer-title" }, "Answer"),
      ...(data.short_answers && data.short_answers.length
        ? [shortAnswerLine(data, citationsByN)]
        : []),
      answerParagraph(data, citationsByN),
      el(
        "p",
        { class: "meta" },
        `Quoted verbatim from the articles \u00b7 confidence ${data.confidence.toFixed(2)}` +
          (total ? ` \u00b7 ${Math.round(total)} ms` : ""),
      ),
    ),
    el(
      "section",
      { id: "citations", "aria-labelledby": "citations-title" },
      el("h2", { id: "citations-title" }, "Sources"),
      el(
        "ol",
        { class: "cards citations" },
        ...data.citations.map((c) => citationCard(c, data.passages, data.evidence_language)),
      ),
    ),
  );
  if (count) {
    results.append(
      el(
        "details",
        { id: "all-passages", class: "all-passages" },
        el("summary", {}, `All retrieved passages (${count})`),
        passageList(data.passages),
      ),
    );
  }
  const n = data.citations.length;
  setStatus(`Answer found, with ${n} citation${n === 1 ? "" : "s"}.`);
}

// [n] in the answer: move to its card (and keyboard focus with it), without touching history.
results.addEventListener("click", (event) => {
  const ref = event.target.closest("a.cite-ref");
  if (!ref) return;
  const card = document.getElementById(`cite-${ref.dataset.n}`);
  if (!card) return;
  event.preventDefault();
  card.scrollIntoView({ block: "nearest" });
  card.focus({ preventScroll: true });
  card.classList.remove("flash");
  void card.offsetWidth; // restart the animation
  card.classList.add("flash");
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const params = paramsFromForm();
  if (event.submitter && event.submitter.value === "timeline") params.set("view", "timeline");
  if (!params.get("q")) {
    setStatus("Type a question first.", true);
    question.focus();
    return;
  }
  history.pushState(null, "", `${ROOT}/?${params}`);
  run(params);
});

function fromLocation() {
  const params = new URLSearchParams(location.search);
  fillForm(params);
  if ((params.get("q") || "").trim()) {
    params.set("q", params.get("q").trim());
    run(params);
  } else {
    requestSeq++;
    results.replaceChildren();
    setStatus("");
    setBusy(false);
  }
}

window.addEventListener("popstate", fromLocation);
fromLocation();
