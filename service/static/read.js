// The reader page: /read/{article_id}?char_start=..&char_end=..&n=..
// Shows the cleaned article from GET /articles/{id} (the text citations point into) with
// text[char_start:char_end] highlighted, scrolled into view and focused.
import {
  appendMarked,
  articleTitle,
  cpToUtf16,
  el,
  errorMessage,
  metaLine,
  ROOT,
} from "./common.js";

const statusLine = document.getElementById("status");
const container = document.getElementById("article");
const back = document.getElementById("back");

const articleId = decodeURIComponent(location.pathname.slice(ROOT.length).replace(/^\/read\//, ""));
const params = new URLSearchParams(location.search);

function intParam(name) {
  const value = params.get(name);
  return value !== null && /^\d+$/.test(value) ? Number(value) : null;
}

const start = intParam("char_start");
const end = intParam("char_end");
const n = intParam("n");

// Back to the results this page was opened from, when it was opened from this site.
try {
  if (document.referrer && new URL(document.referrer).origin === location.origin && history.length > 1) {
    back.addEventListener("click", (event) => {
      event.preventDefault();
      history.back();
    });
  } else {
    back.textContent = "\u2190 Ask a question";
  }
} catch {
  back.textContent = "\u2190 Ask a question";
}

function fail(message) {
  statusLine.textContent = message;
  statusLine.classList.add("error");
  document.title = "Article not available: newsqa";
}

function render(article) {
  const title = articleTitle(article.title, article.id);
  document.title = `${title}: newsqa`;
  const text = article.text;
  const wanted = start !== null || end !== null;
  // char_start/char_end count code points (Python offsets); the string is indexed in UTF-16.
  const [from, to] = [cpToUtf16(text, start), cpToUtf16(text, end)];
  const valid = from !== null && to !== null && from < to;

  container.append(
    el("h1", { id: "article-title", class: "article-title" }, title),
    metaLine(article),
  );
  if (article.id !== articleId) {
    container.append(
      el("p", { class: "note" }, `“${articleId}” was indexed as a copy of “${article.id}”; this is the kept article.`),
    );
  }
  if (valid) {
    container.append(
      el(
        "p",
        { class: "note" },
        n !== null ? `Quote [${n}] is highlighted. ` : "The passage is highlighted. ",
        el("a", { href: "#quote" }, "Jump to it"),
      ),
    );
  } else if (wanted) {
    container.append(
      el("p", { class: "note error" }, "The highlight does not fit this article's text; it is shown without one."),
    );
  }
  const body = el("div", { id: "article-text", class: "article-text" });
  const marks = valid
    ? appendMarked(body, text, [[from, to]], { id: "quote", class: "quote", tabindex: "-1" })
    : (body.append(text), []);
  container.append(body);
  container.hidden = false;
  statusLine.textContent = "";
  statusLine.hidden = true;
  if (marks.length) {
    marks[0].scrollIntoView({ block: "center" });
    marks[0].focus({ preventScroll: true });
  }
}

async function load() {
  if (!articleId) {
    fail("No article id in the address.");
    return;
  }
  try {
    const response = await fetch(`${ROOT}/articles/${encodeURIComponent(articleId)}`, {
      headers: { accept: "application/json" },
    });
    const data = await response.json().catch(() => null);
    // 422: the id breaks the id rules (a mistyped or cut link), so no article has it; the
    // page showed the API's regular expression instead.
    if (response.status === 404 || response.status === 422) {
      fail(`There is no article with id “${articleId}”.`);
    } else if (!response.ok || !data) {
      fail(`Could not load the article: ${errorMessage(response.status, data)}`);
    } else {
      render(data);
    }
  } catch (err) {
    fail(`Could not reach the service (${err.message}).`);
  }
}

load();
