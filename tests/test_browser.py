"""The web page in a real browser: headless Chromium (Debian's `chromium` package) driven by
Playwright, against the real server over the real corpus index.

The browser is found at $NEWSQA_CHROMIUM (default /usr/bin/chromium). Without it (or without
playwright) the tests skip, unless NEWSQA_REQUIRE_BROWSER=1 (set by CI), where they fail.
Screenshots land in test-output/browser/.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # reported by the `browser` fixture (skip, or fail in CI)
    expect = sync_playwright = None

REPO_DIR = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_DIR / "test-output" / "browser"
CHROMIUM = os.environ.get("NEWSQA_CHROMIUM", "/usr/bin/chromium")
# The reader page's text before the highlighted quote, as the browser renders it.
TEXT_BEFORE_MARK = """() => {
    const range = document.createRange();
    range.setStart(document.getElementById("article-text"), 0);
    range.setEndBefore(document.getElementById("quote"));
    return range.toString();
}"""
REQUIRE_BROWSER = os.environ.get("NEWSQA_REQUIRE_BROWSER") == "1"

PALEMBANG_EN = "which Palembang programs won 2020 awards"
UNANSWERABLE = "Who won the 1994 FIFA World Cup final in Pasadena?"
# Markup that must come out as text: a script, an image whose error handler would run, a tag.
HOSTILE = (
    "<script>window.__pwned = 'script'</script>"
    "<img src=x onerror=\"window.__pwned = 'img'\"><b>bold</b>"
)


def _unavailable(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (NEWSQA_REQUIRE_BROWSER=1 requires the browser test to run)")
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def chromium_executable() -> str:
    """Checked first (autouse), so a missing browser skips before the index is built."""
    if sync_playwright is None:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"no Chromium at {CHROMIUM}: apt-get install chromium, or set NEWSQA_CHROMIUM")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium_executable):
    expect.set_options(timeout=30_000)  # the first /ask warms the model up
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        # --no-sandbox: as root (CI containers) Chromium's sandbox refuses to start.
        launched = p.chromium.launch(
            executable_path=chromium_executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser, live_server):
    """open_page(width, height, base_url=...) -> a page on the live server (or the server at
    base_url); page errors land in .errors."""
    contexts = []

    def make(width: int = 1280, height: int = 900, **options):
        options.setdefault("base_url", live_server)  # another server: base_url=its URL
        context = browser.new_context(viewport={"width": width, "height": height}, **options)
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: page.errors.append(f"console: {msg.text}") if msg.type == "error" else None,
        )
        return page

    yield make
    for context in contexts:
        context.close()


def ask(page, question: str) -> dict:
    """Type the question, submit it with Enter, return the /ask response body."""
    page.locator("#question").fill(question)
    with page.expect_response(lambda r: urlsplit(r.url).path == "/ask") as response:
        page.locator("#question").press("Enter")
    return response.value.json()


def test_palembang_answer_then_citation_opens_highlighted_article(open_page, live_server):
    page = open_page()
    response = page.goto("/")
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]

    # Keyboard first: the first Tab stop is the question box, Enter submits.
    page.keyboard.press("Tab")
    expect(page.locator("#question")).to_be_focused()
    page.keyboard.type(PALEMBANG_EN)
    page.screenshot(path=OUT_DIR / "ask.png")
    with page.expect_response(lambda r: urlsplit(r.url).path == "/ask") as ask_response:
        page.keyboard.press("Enter")
    body = ask_response.value.json()
    assert not body["abstained"] and body["citations"]

    # The short answers in bold above the quotes, each linked to the citation that holds it.
    shorts = page.locator("#short-answers strong.short-answer")
    expect(shorts).to_have_text([s["text"] for s in body["short_answers"]])
    named = " ".join(s["text"] for s in body["short_answers"])
    assert "Poltabes" in named and "Pangling" in named, named
    expect(page.locator("#short-answers a.cite-ref")).to_have_text(
        [f"[{s['n']}]" for s in body["short_answers"]]
    )
    answer = page.locator("#answer-text")
    expect(answer).to_contain_text("Poltabes")
    expect(answer).to_contain_text("Pangling")
    markers = answer.locator("a.cite-ref")
    expect(markers).to_have_text([f"[{c['n']}]" for c in body["citations"]])
    cards = page.locator("#citations li.citation")
    expect(cards).to_have_count(len(body["citations"]))
    for citation in body["citations"]:
        card = page.locator(f"#cite-{citation['n']}")
        expect(card.locator("a.article-link")).to_have_text(citation["title"])
        expect(card.locator("mark.quote")).to_have_text(citation["quote"])
        expect(card.locator("time")).to_have_text("25 Nov 2020")
        expect(card.locator("a.original")).to_have_attribute("href", citation["url"])
    page.screenshot(path=OUT_DIR / "answer.png", full_page=True)

    # [1] in the answer moves to (and focuses) citation card 1 ...
    first = body["citations"][0]
    markers.first.click()
    expect(page.locator(f"#cite-{first['n']}")).to_be_focused()
    # ... whose article link opens the reader with exactly the quote highlighted.
    page.locator(f"#cite-{first['n']} a.article-link").click()
    page.wait_for_url(f"**/read/{first['article_id']}?*")
    query = parse_qs(urlsplit(page.url).query)
    assert query["char_start"] == [str(first["char_start"])]
    assert query["char_end"] == [str(first["char_end"])]
    article = httpx.get(f"{live_server}/articles/{first['article_id']}", timeout=30).json()
    expect(page.locator("#article-title")).to_have_text(article["title"])
    mark = page.locator("mark#quote")
    expect(mark).to_have_text(first["quote"])
    expect(mark).to_be_focused()
    expect(mark).to_be_in_viewport()
    assert page.locator("#article-text").text_content() == article["text"]
    text_before_mark = page.evaluate(TEXT_BEFORE_MARK)
    assert text_before_mark == article["text"][: first["char_start"]]
    page.screenshot(path=OUT_DIR / "article.png")

    # Back returns to the same question and answer (they live in the page URL).
    page.locator("#back").click()
    expect(page.locator("#answer-text")).to_contain_text("Poltabes")
    expect(page.locator("#question")).to_have_value(PALEMBANG_EN)
    assert page.errors == []


def test_keyboard_reaches_citation_and_article(open_page):
    page = open_page()
    page.goto("/")
    body = ask(page, PALEMBANG_EN)
    n = body["citations"][0]["n"]
    marker = page.locator("#answer-text a.cite-ref").first
    marker.focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"#cite-{n}")).to_be_focused()
    page.keyboard.press("Tab")  # the card's first stop: its article link
    expect(page.locator(f"#cite-{n} a.article-link")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url("**/read/**")
    expect(page.locator("mark#quote")).to_be_focused()
    assert page.errors == []


def test_unanswerable_question_shows_no_answer_with_nearest_passages(open_page):
    page = open_page()
    page.goto("/")
    body = ask(page, UNANSWERABLE)
    assert body["abstained"] is True and body["answer"] is None and body["passages"]

    box = page.locator("#no-answer")
    expect(box).to_be_visible()
    expect(box.locator("h2")).to_have_text("No answer found")
    expect(page.locator("#answer")).to_have_count(0)
    expect(page.locator("#citations")).to_have_count(0)
    nearest = page.locator("#nearest li.passage-card")
    expect(nearest).to_have_count(len(body["passages"]))
    expect(nearest.locator("a.article-link")).to_have_text([p["title"] for p in body["passages"]])
    first = body["passages"][0]
    expect(nearest.first.locator("a.article-link")).to_have_attribute(
        "href",
        f"/read/{first['article_id']}?char_start={first['char_start']}&char_end={first['char_end']}",
    )
    expect(page.locator("#status")).to_contain_text("No answer found")
    page.screenshot(path=OUT_DIR / "no-answer.png", full_page=True)
    assert page.errors == []


def test_filters_are_sent_applied_and_kept_in_the_url(open_page):
    page = open_page()
    page.goto("/")
    page.locator("#published-from").fill("2020-11-01")
    page.locator("#published-to").fill("2020-11-30")
    page.locator("#category").fill("Pemerintahan")
    page.locator("#question").fill(PALEMBANG_EN)
    with page.expect_request(lambda r: urlsplit(r.url).path == "/ask") as request:
        page.locator("#ask-button").click()
    filters = request.value.post_data_json["filters"]
    # bare days: whole days of the calendar the page shows dates in, whatever the browser's zone
    assert (filters["published_from"], filters["published_to"]) == ("2020-11-01", "2020-11-30")
    assert filters["category"] == "Pemerintahan"
    expect(page.locator("#answer-text")).to_contain_text("Poltabes")
    categories = page.locator("#all-passages .category").all_text_contents()
    assert categories and set(categories) == {"Pemerintahan"}
    dates = page.locator("#all-passages time").all_text_contents()
    assert dates and all(d.endswith("Nov 2020") for d in dates)

    # The URL carries question and filters: reloading it gives the same form and answer.
    query = parse_qs(urlsplit(page.url).query)
    assert query == {
        "q": [PALEMBANG_EN],
        "from": ["2020-11-01"],
        "to": ["2020-11-30"],
        "category": ["Pemerintahan"],
    }
    page.reload()
    expect(page.locator("#category")).to_have_value("Pemerintahan")
    expect(page.locator("#published-from")).to_have_value("2020-11-01")
    expect(page.locator("#answer-text")).to_contain_text("Pangling")
    assert page.errors == []


def _no_horizontal_scroll(page) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 360 + 1, f"page is {width} px wide at a 360 px viewport"


def test_readable_at_360_px(open_page):
    page = open_page(360, 740, is_mobile=True, has_touch=True)
    page.goto(f"/?q={PALEMBANG_EN.replace(' ', '+')}")
    expect(page.locator("#answer-text")).to_contain_text("Poltabes")
    assert page.evaluate("window.innerWidth") == 360
    _no_horizontal_scroll(page)
    page.screenshot(path=OUT_DIR / "mobile-360.png", full_page=True)

    page.locator("#cite-1 a.article-link").click()
    expect(page.locator("mark#quote")).to_be_in_viewport()
    _no_horizontal_scroll(page)
    page.screenshot(path=OUT_DIR / "mobile-360-article.png")
    assert page.errors == []


def test_article_markup_is_shown_as_text_never_parsed(open_page, live_server):
    """Titles, quotes, passages and article text holding HTML stay text; javascript: URLs drop.

    The corpus has no such article, so the API's responses are rewritten in the browser (the
    page code under test is the real one, served by the real server)."""
    page = open_page()
    real = httpx.get(f"{live_server}/articles/nq-001", timeout=30).json()
    hostile_text = HOSTILE + "\n\n" + real["text"]

    def hostile_article(route):
        body = route.fetch().json()
        body.update(
            title="Judul " + HOSTILE,
            text=hostile_text,
            source=HOSTILE,
            url="javascript:window.__pwned = 'url'",
        )
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/articles/nq-001", hostile_article)
    page.goto(f"/read/nq-001?char_start=0&char_end={len(HOSTILE)}&n=1")
    expect(page.locator("mark#quote")).to_have_text(HOSTILE)
    expect(page.locator("#article-title")).to_have_text("Judul " + HOSTILE)
    assert page.locator("#article-text").text_content() == hostile_text
    assert page.locator("#article script, #article img, #article b").count() == 0
    assert page.locator("#article a.original").count() == 0  # javascript: URL not linked
    assert page.evaluate("window.__pwned") is None
    page.screenshot(path=OUT_DIR / "escaped-article.png")

    def hostile_answer(route):
        body = route.fetch().json()
        citation = body["citations"][0]
        citation.update(title=HOSTILE, quote=HOSTILE, url="javascript:window.__pwned = 'url'")
        body["citations"] = [citation]
        body["answer"] = f"Jawaban {HOSTILE} [{citation['n']}]"
        for passage in body["passages"]:
            passage.update(
                title=HOSTILE,
                category=HOSTILE,
                text=passage["text"] + " " + HOSTILE,
                url="javascript:window.__pwned = 'url'",
            )
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/ask", hostile_answer)
    page.goto("/")
    page.locator("#question").fill(PALEMBANG_EN)
    page.locator("#question").press("Enter")
    expect(page.locator("#answer-text")).to_contain_text(HOSTILE)
    expect(page.locator("#citations mark.quote")).to_have_text(HOSTILE)
    expect(page.locator("#citations a.article-link")).to_have_text(HOSTILE)
    assert page.locator("#results script, #results img, #results b").count() == 0
    assert page.locator("#results a.original").count() == 0  # no javascript: URL linked
    assert page.locator("a[href^='javascript' i]").count() == 0
    assert page.evaluate("window.__pwned") is None
    page.screenshot(path=OUT_DIR / "escaped-answer.png")
    assert page.errors == []


def test_a_bracketed_number_in_a_quote_is_no_citation_marker(open_page):
    """An article's own "[2]" (a footnote, a list number) was linked as citation 2."""
    page = open_page()

    def two_citations(route):
        body = route.fetch().json()
        first = body["citations"][0]
        first["quote"] = "Juara lomba adalah tim Bahari Jaya [2] dari Banyuasin."
        second = {**first, "n": 2, "quote": "Tim itu mencatat waktu 2 menit 14 detik."}
        body["citations"] = [first, second]
        body["answer"] = f"{first['quote']} [1] {second['quote']} [2]"
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/ask", two_citations)
    page.goto("/")
    page.locator("#question").fill(PALEMBANG_EN)
    page.locator("#question").press("Enter")
    expect(page.locator("#answer-text")).to_contain_text("Bahari Jaya [2] dari")
    refs = page.locator("#answer-text a.cite-ref")
    expect(refs).to_have_count(2)
    assert [refs.nth(i).get_attribute("data-n") for i in range(2)] == ["1", "2"]
    assert page.errors == []


def test_unknown_article_page_is_404_and_says_so(open_page):
    page = open_page()
    response = page.goto("/read/no-such-article?char_start=0&char_end=5")
    assert response.status == 404
    expect(page.locator("#status")).to_contain_text("no article with id “no-such-article”")
    expect(page.locator("#article")).to_be_hidden()
    # an id no article can have (outside the id rules): said the same way, not as the API's
    # "path.article_id: String should match pattern '^[A-Za-z0-9]...'"
    response = page.goto("/read/%3Cscript%3E")
    assert response.status == 404
    expect(page.locator("#status")).to_have_text("There is no article with id “<script>”.")
    expect(page.locator("#article")).to_be_hidden()


# Emoji (one code point, two UTF-16 units each) and a ZWJ family before the quoted sentence:
# the API's offsets count code points, JavaScript indexes strings in UTF-16 units.
EMOJI_ARTICLE = {
    "id": "emoji-1",
    "title": "Festival Kuliner Sungai Musi 🍜 kembali digelar",
    "url": "https://contoh-berita.id/festival-kuliner",
    "published": "2024-08-17T09:00:00+07:00",
    "category": "Budaya",
    "source": "Tes",
    "text": "Festival Kuliner Sungai Musi 🍜🔥 kembali digelar di Benteng Kuto Besak 🎉🎉. "
    "Keluarga 👨‍👩‍👧‍👦 memadati tenda pempek 🐟 sejak pagi 🇮🇩. "
    "Panitia mencatat 25.000 pengunjung datang selama tiga hari festival berlangsung. "
    "Wali kota berharap festival ini menjadi agenda tahunan untuk menarik wisatawan.",
}
EMOJI_QUESTION = "Berapa pengunjung yang dicatat panitia selama tiga hari festival kuliner?"


@contextmanager
def server_over(records, folder, settings, embedder):  # type: ignore[no-untyped-def]
    """The real server over an index of ``records`` alone."""
    from conftest import running_server, write_jsonl

    from indexer.pipeline import build_index

    build_index([write_jsonl(folder / "articles.jsonl", records)], folder / "index", embedder)
    with running_server(folder / "index", settings.cache_dir) as url:
        yield url


@pytest.fixture(scope="module")
def emoji_server(chromium_executable, tmp_path_factory, settings, embedder):
    """The real server over an index holding one article with emoji before its facts."""
    with server_over([EMOJI_ARTICLE], tmp_path_factory.mktemp("emoji"), settings, embedder) as url:
        yield url


def test_highlights_after_emoji_are_the_quoted_text(browser, emoji_server):
    from indexer.analyzer import analyze

    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=emoji_server)
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    try:
        page.goto("/")
        body = ask(page, EMOJI_QUESTION)
        assert not body["abstained"] and body["citations"], body
        article = httpx.get(f"{emoji_server}/articles/emoji-1", timeout=30).json()
        text = article["text"]
        for citation in body["citations"]:
            assert text[citation["char_start"] : citation["char_end"]] == citation["quote"]
        first = body["citations"][0]
        assert "25.000 pengunjung" in first["quote"]
        before = text[: first["char_start"]]
        assert sum(ord(ch) > 0xFFFF for ch in before) >= 8, "emoji must precede the quote"

        # The citation card: the quote inside its passage.
        card = page.locator(f"#cite-{first['n']}")
        expect(card.locator("mark.quote")).to_have_text(first["quote"])
        # The passage list: every highlighted span is a query term, not a shifted slice.
        terms = set(analyze(EMOJI_QUESTION))
        page.locator("#all-passages summary").click()  # a closed <details> at first
        marks = page.locator("#all-passages mark.term")
        expect(marks.first).to_be_visible()
        for marked in marks.all_text_contents():
            assert set(analyze(marked)) & terms, f"{marked!r} is no query term"
        page.screenshot(path=OUT_DIR / "emoji-answer.png", full_page=True)

        # The reader page: exactly the quote highlighted, everything before it unmarked.
        card.locator("a.article-link").click()
        page.wait_for_url("**/read/emoji-1?*")
        mark = page.locator("mark#quote")
        expect(mark).to_have_text(first["quote"])
        expect(mark).to_be_focused()
        assert page.locator("#article-text").text_content() == text
        text_before_mark = page.evaluate(TEXT_BEFORE_MARK)
        assert text_before_mark == before
        page.screenshot(path=OUT_DIR / "emoji-article.png")
        # An end past the article's last code point does not fit: no highlight, a note.
        page.goto(f"/read/emoji-1?char_start=0&char_end={len(text) + 1}")
        expect(page.locator("#article .note.error")).to_be_visible()
        expect(page.locator("mark#quote")).to_have_count(0)
        page.goto(f"/read/emoji-1?char_start=0&char_end={len(text)}")  # the whole text fits
        expect(page.locator("mark#quote")).to_have_text(text)
        assert errors == []
    finally:
        context.close()


def test_timeline_lists_dated_sentences_earliest_first_and_opens_them(open_page, live_server):
    page = open_page()
    page.goto("/")
    page.locator("#question").fill("harga cabai rawit Palembang")
    with page.expect_response(lambda r: urlsplit(r.url).path == "/timeline") as response:
        page.locator("#timeline-button").click()
    body = response.value.json()
    starts = [e["start"] for e in body["events"]]
    assert starts and starts == sorted(starts)
    items = page.locator("#timeline li.timeline-entry")
    expect(items).to_have_count(len(body["events"]))
    first = body["events"][0]
    expect(items.first.locator("mark.expr-mark")).to_have_text(first["expression"])
    expect(items.first.locator("a.article-link")).to_have_text(first["title"])
    assert "view=timeline" in page.url  # the view lives in the page URL, like the question
    page.screenshot(path=OUT_DIR / "timeline.png", full_page=True)

    # The Senin (6/2/2023) sentence of the chili article, resolved and linked to its reader.
    chili = next(e for e in body["events"] if e["expression"] == "Senin (6/2/2023)")
    item = items.nth(body["events"].index(chili))
    expect(item.locator("p.when")).to_have_text("Mon 6 Feb 2023")
    item.locator("a.article-link").click()
    page.wait_for_url(f"**/read/{chili['article_id']}?*")
    expect(page.locator("mark#quote")).to_have_text(chili["quote"])
    page.go_back()
    expect(page.locator("#timeline li.timeline-entry")).to_have_count(len(body["events"]))
    assert page.errors == []


COPIED_ARTICLE = {
    "id": "story-1",
    "title": "Pasar Terapung Lok Baintan Ramai Dikunjungi Wisatawan",
    "url": "https://contoh-berita.id/lok-baintan",
    "published": "2024-06-02T08:00:00+07:00",
    "source": "Warta Banjar",
    "text": "Pasar terapung Lok Baintan di Kabupaten Banjar kembali ramai dikunjungi wisatawan "
    "pada Minggu pagi. Para pedagang menjual sayur, buah dan kue tradisional dari atas "
    "jukung, perahu kecil khas Kalimantan Selatan.\n\nKepala Dinas Pariwisata Banjar, Rahmi "
    "Fauziah, mengatakan jumlah pengunjung naik menjadi sekitar 1.200 orang setiap akhir "
    "pekan. Pemerintah daerah menyiapkan dermaga baru agar wisatawan lebih mudah naik "
    "perahu.\n\nPedagang berharap jalan menuju pasar segera diperbaiki.",
}
COPY = {
    **COPIED_ARTICLE,
    "id": "story-2",
    "title": "Wisatawan Padati Pasar Terapung Lok Baintan",
    "url": "https://kabar-kalsel.example/lok-baintan",
    "source": "Kabar Kalsel",
    "text": "BANJARMASIN, KABAR KALSEL - "
    + COPIED_ARTICLE["text"].rsplit("\n\n", 1)[0]
    + "\n\n(kk/red)",
}


@pytest.fixture(scope="module")
def story_server(chromium_executable, tmp_path_factory, settings, embedder):
    """The real server over an index holding an article and a republished copy of it."""
    folder = tmp_path_factory.mktemp("story")
    with server_over([COPIED_ARTICLE, COPY], folder, settings, embedder) as url:
        yield url


def test_a_story_shows_once_with_the_outlets_that_also_reported_it(open_page, story_server):
    page = open_page(base_url=story_server)
    page.goto("/")
    body = ask(page, "berapa pengunjung pasar terapung Lok Baintan setiap akhir pekan?")
    [shown] = {p["article_id"] for p in body["passages"]}  # the story once
    other = COPY if shown == COPIED_ARTICLE["id"] else COPIED_ARTICLE
    card = page.locator("#citations li.citation").first
    also = card.locator("p.also-reported")
    expect(also).to_have_text(f"Also reported by {other['source']}")
    expect(also.locator("a")).to_have_attribute("href", f"/read/{other['id']}")
    also.locator("a").click()
    page.wait_for_url(f"**/read/{other['id']}")
    expect(page.locator("#article-title")).to_have_text(other["title"])
    assert page.errors == []


UNTITLED = {  # a record with no title (nor url, date, source or category)
    "id": "tanpa-judul-1",
    "text": "Gempa berkekuatan magnitudo 5,6 mengguncang Cianjur pada Senin siang. "
    "Korban meninggal mencapai 300 orang menurut BNPB.",
}


@pytest.fixture(scope="module")
def untitled_server(chromium_executable, tmp_path_factory, settings, embedder):
    """The real server over an index holding one article indexed without a title."""
    with server_over([UNTITLED], tmp_path_factory.mktemp("untitled"), settings, embedder) as url:
        yield url


def test_an_article_without_a_title_is_linked_by_its_id(open_page, untitled_server):
    """Its citation card, passage card and reader page named it by an empty title: links with
    no text, invisible and unclickable, and a reader page titled ": newsqa"."""
    page = open_page(base_url=untitled_server)
    page.goto("/")
    body = ask(page, "berapa korban meninggal gempa Cianjur?")
    assert [c["title"] for c in body["citations"]] == [""], body
    card = page.locator("#cite-1")
    expect(card.locator("h3 a.article-link")).to_have_text(UNTITLED["id"])
    expect(page.locator("a.cite-ref").first).to_have_attribute(
        "aria-label", f"Citation 1: {UNTITLED['id']}"
    )
    page.locator("#all-passages summary").click()
    expect(page.locator("#all-passages a.article-link")).to_have_text([UNTITLED["id"]])
    empty = page.locator("#results a").evaluate_all(
        "links => links.filter(a => !a.textContent.trim()).map(a => a.outerHTML)"
    )
    assert empty == []
    card.locator("h3 a.article-link").click()
    page.wait_for_url(f"**/read/{UNTITLED['id']}*")
    expect(page.locator("#article-title")).to_have_text(UNTITLED["id"])
    expect(page).to_have_title(f"{UNTITLED['id']}: newsqa")
    expect(page.locator("#quote")).to_have_text("Korban meninggal mencapai 300 orang menurut BNPB.")
    assert page.errors == []
