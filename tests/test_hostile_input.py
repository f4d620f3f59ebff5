"""Hostile and odd input: every case gets a 4xx that names the problem, or a normal answer;
never a 500. Article text comes back as JSON string data, and the web pages carry the CSP.

Most cases run the real app (real index, real model) through FastAPI's TestClient; the ones
that depend on the HTTP server itself (chunked bodies, raw bytes) go to the live server.
"""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def client(corpus_index, settings, embedder):
    # No rate limit here: the many cases below come from one client in a few seconds.
    unlimited = settings.model_copy(update={"rate_limit_per_minute": 0})
    with TestClient(create_app(unlimited, embedder), raise_server_exceptions=False) as c:
        yield c


def _detail(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/json")
    return json.dumps(response.json()["detail"], ensure_ascii=False)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b'{"question": "harga \xff\xfe cabai"}', 400, ["UTF-8"]),
        (b"\xff\xfe\x00{", 400, ["UTF-8"]),
        (b'{"question": "harga cabai"', 422, ["JSON decode error"]),
        (b'{"question": "\\ud800 cabai"}', 422, ["question", "unicode"]),  # lone surrogate
        (b'{"question": "ok", "colour": "\\udfff"}', 422, ["colour"]),  # echoed input
        (b'{"question": "ok", "filters": {"source": "\\ud83d"}}', 422, ["source"]),
        (b'{"question": 42}', 422, ["question", "string"]),
        (b'{"question": ["a", "b"]}', 422, ["question", "string"]),
        (b'{"question": {"$ne": null}}', 422, ["question", "string"]),
        (b'{"question": "ok", "k": 2.5}', 422, ["k", "integer"]),
        (b'{"question": "ok", "k": "5; DROP TABLE articles"}', 422, ["k", "integer"]),
        (b'{"question": "ok", "k": 1e400}', 422, ["k"]),
        (b'{"question": "ok", "filters": [1, 2]}', 422, ["filters"]),
        (b'{"question": "ok", "filters": {"published_from": 1e99}}', 422, ["published_from"]),
        (b'["question", "harga cabai"]', 422, ["dictionary"]),
        (b'"harga cabai"', 422, ["dictionary"]),
        (b"null", 422, ["body"]),
        (b"", 422, ["body"]),
        (json.dumps({"question": ZERO_WIDTH}).encode(), 422, ["question", "invisible"]),
        (json.dumps({"question": f" {ZERO_WIDTH}\u202e\t"}).encode(), 422, ["question", "empty"]),
        (json.dumps({"question": "a" * 10_000}).encode(), 422, ["question", "1000"]),
        (json.dumps({"question": "ok", "pad": "x" * 2_000_000}).encode(), 413, ["1048576"]),
        # valid JSON the parser cannot take: a vague "error parsing the body" named neither
        (b'{"question": "ok", "filters": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400, ["nests"]),
        (b'{"question": "ok", "k": ' + b"9" * 5000 + b"}", 400, ["4300 digits"]),
    ],
)
def test_bad_ask_bodies_get_4xx_naming_the_problem(client, body, status, words):
    response = client.post("/ask", content=body, headers=JSON)
    assert response.status_code == status, response.text[:300]
    detail = _detail(response)
    for word in words:
        assert word in detail


@pytest.mark.parametrize(
    "question",
    [
        "\u202eharga cabai\u202c di Palembang",  # right-to-left override
        "\u200bharga\u200b cabai\u200d Palembang\ufeff",  # zero-width inside and around
        "שלום, berapa harga cabai? مرحبا",  # RTL scripts
        "🌶️🌶️ harga cabai di Palembang 🔥👍🏽👨‍👩‍👧",
        "🌶️🔥",
        "'; DROP TABLE articles; -- OR 1=1",
        '" OR ""=" UNION SELECT * FROM chunks --',
        "<script>alert('x')</script> harga cabai <img src=x onerror=alert(1)>",
        "{{7*7}} ${jndi:ldap://x} %s%s%n",
        "harga\u0000cabai\u0007",
        "a" * 1000,
        "Palembang " * 99,
    ],
)
def test_odd_questions_get_a_normal_answer(client, question):
    response = client.post("/ask", json={"question": question})
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    assert response.headers["content-type"] == "application/json"
    assert body["abstained"] in (True, False)
    assert body["question"] and body["question"] in question
    if not body["abstained"]:
        assert body["citations"]


@pytest.mark.parametrize(
    ("params", "ok_statuses"),
    [
        ({"q": ZERO_WIDTH}, {422}),
        ({"q": "\u200b\u200b"}, {422}),
        ({"q": " \u202e\u2060\x1d\t"}, {422}),
        ({"q": " \t\n "}, {422}),
        ({"q": "' OR 1=1 --"}, {200}),
        ({"q": "<script>alert(1)</script>"}, {200}),
        ({"q": "🌶️ cabai"}, {200}),
        ({"q": "\u202ecabai"}, {200}),
        ({"q": "a" * 10_000}, {422}),
        ({"q": "cabai", "k": "1e400"}, {422}),
        ({"q": "cabai", "k": "-1"}, {422}),
        ({"q": "cabai", "published_from": "2020-13-45"}, {422}),
        ({"q": "cabai", "source": "x" * 5000}, {422}),
        ({"q": "cabai", "category": "'; DROP TABLE articles; --"}, {200}),
    ],
)
def test_odd_searches_never_fail(client, params, ok_statuses):
    response = client.get("/search", params=params)
    assert response.status_code in ok_statuses, response.text[:300]
    if response.status_code == 422:  # the documented shape (HTTPValidationError)
        assert isinstance(response.json()["detail"], list)


def test_search_of_only_invisible_characters_gets_the_asks_422(client):
    """GET /search makes the same check as POST /ask's question (service/input_text.py)."""
    for q in ("\u200b\u200b", ZERO_WIDTH, "\u202e\u202c", "\x1d\x1d", f" {ZERO_WIDTH}\t"):
        response = client.get("/search", params={"q": q})
        assert response.status_code == 422, (q, response.text[:300])
        [error] = response.json()["detail"]  # the list shape of every validation error
        assert error["loc"] == ["query", "q"]
        assert "invisible" in error["msg"]
        asked = client.post("/ask", json={"question": q})
        assert asked.status_code == 422 and "invisible" in asked.text
    # raw in the URL, as a browser sends it
    assert client.get("/search?q=%E2%80%8B%E2%80%8B").status_code == 422
    # inside a query they are just text, and the ends are trimmed as for /ask
    inside = client.get("/search", params={"q": "\u200bharga\u200b cabai\u2060"})
    assert inside.status_code == 200 and inside.json()["query"] == "harga\u200b cabai"


def test_raw_invalid_utf8_in_urls(client):
    response = client.get("/read/%ff")
    assert response.status_code == 404, response.text[:200]
    # bytes that are no UTF-8 (a lone surrogate's among them): 422 naming q, not a search
    # for the U+FFFD characters Starlette decodes them to
    for url in ("/search?q=%ff%fe%ED%A0%80", "/search?q=cabai%ED%A0%80", "/timeline?q=%ff"):
        response = client.get(url)
        assert response.status_code == 422, (url, response.text[:200])
        assert "not UTF-8" in _detail(response) and "q" in _detail(response)
    typed = client.get("/search?q=harga%20%EF%BF%BD%20cabai")  # U+FFFD as such: UTF-8
    assert typed.status_code == 200, typed.text[:200]
    # not an article id (indexer/ids.py): 422 naming the path parameter, never a 500
    for url in ("/articles/%ff%fe", "/articles/a%00b", "/articles/' OR '1'='1"):
        response = client.get(url)
        assert response.status_code == 422, (url, response.text[:200])
        [error] = response.json()["detail"]
        assert error["loc"] == ["path", "article_id"] and "pattern" in error["msg"]
    missing = client.get("/articles/no-such-article")
    assert missing.status_code == 404
    assert "no-such-article" in missing.json()["detail"]


def test_live_server_refuses_oversized_and_chunked_bodies(live_server):
    with httpx.Client(base_url=live_server, timeout=60) as http:
        big = http.post("/ask", content=b"x" * (1_048_576 + 1), headers=JSON)
        assert big.status_code == 413
        assert "1048576 bytes" in big.json()["detail"]

        def chunks():  # no Content-Length: the server must count the bytes as they come
            for _ in range(40):
                yield b" " * 65_536

        streamed = http.post("/ask", content=chunks(), headers=JSON)
        assert streamed.status_code == 413
        assert "1048576 bytes" in streamed.json()["detail"]

        ok = http.post("/ask", content=b" " * 1000 + b'{"question": "harga cabai"}', headers=JSON)
        assert ok.status_code == 200


def test_live_server_names_bad_encoding_and_invisible_questions(live_server):
    with httpx.Client(base_url=live_server, timeout=60) as http:
        latin1 = http.post("/ask", content='{"question": "café"}'.encode("latin-1"), headers=JSON)
        assert latin1.status_code == 400
        assert "UTF-8" in latin1.json()["detail"]
        invisible = http.post("/ask", json={"question": ZERO_WIDTH * 3})
        assert invisible.status_code == 422
        assert "invisible" in invisible.text and "question" in invisible.text
        surrogate = http.post("/ask", content=b'{"question": "\\udc00"}', headers=JSON)
        assert surrogate.status_code == 422


HOSTILE_TITLE = "Banjir <script>alert('judul')</script> di Palembang"
HOSTILE_TEXT = (
    "Banjir besar melanda Palembang pada hari Senin. <script>alert('teks')</script> Warga "
    'mengungsi ke masjid terdekat. <img src=x onerror="alert(1)"> Air setinggi satu meter '
    "merendam ratusan rumah di tepi Sungai Musi. </textarea><b>tebal</b> &amp; &lt;x&gt;"
)


@pytest.fixture(scope="module")
def hostile_client(tmp_path_factory, settings, embedder):
    """An index holding one article full of markup, served by the real app."""
    from indexer.pipeline import build_index

    folder = tmp_path_factory.mktemp("hostile")
    article = {
        "id": "xss-1",
        "title": HOSTILE_TITLE,
        "url": "https://contoh-berita.id/banjir",
        "published": "2024-01-08T10:00:00+07:00",
        "category": "Bencana <i>alam</i>",
        "source": "Warta <b>Sumsel</b>",
        "text": HOSTILE_TEXT,
    }
    (folder / "articles.jsonl").write_text(json.dumps(article) + "\n", encoding="utf-8")
    hostile = settings.model_copy(update={"index_dir": folder / "index"})
    build_index([folder / "articles.jsonl"], hostile.index_dir, embedder)
    with TestClient(create_app(hostile, embedder), raise_server_exceptions=False) as c:
        yield c


def test_article_markup_comes_back_as_json_string_data(hostile_client):
    response = hostile_client.get("/articles/xss-1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["title"] == HOSTILE_TITLE
    assert "<script>alert('teks')</script>" in body["text"]
    assert '<img src=x onerror="alert(1)">' in body["text"]

    search = hostile_client.get("/search", params={"q": "banjir Palembang script"})
    assert search.status_code == 200
    assert search.headers["content-type"] == "application/json"
    passage = search.json()["passages"][0]
    assert passage["title"] == HOSTILE_TITLE and "<script>" in passage["text"]
    assert passage["highlights"], "highlights are offsets into the text, never markup"
    assert "<mark" not in search.text

    answer = hostile_client.post("/ask", json={"question": "banjir di Palembang merendam apa?"})
    assert answer.headers["content-type"] == "application/json"
    for citation in answer.json()["citations"]:
        assert HOSTILE_TEXT[citation["char_start"] : citation["char_end"]] == citation["quote"]


def test_web_pages_carry_the_content_security_policy(hostile_client):
    for path in ("/", "/read/xss-1?char_start=0&char_end=6", "/read/no-such-id"):
        response = hostile_client.get(path)
        assert response.headers["content-type"].startswith("text/html")
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "object-src 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "xss-1" not in response.text and "<script>alert" not in response.text


ID_TOKEN = "test-token-ids"
ID_AUTH = {"Authorization": f"Bearer {ID_TOKEN}"}
ID_TEXT = "Pasar malam di Palembang ramai dikunjungi warga setiap akhir pekan."


@pytest.fixture(scope="module")
def ids_client(tmp_path_factory, settings, embedder):
    """The real app with writes enabled, over a small index of its own."""
    from pydantic import SecretStr

    from indexer.pipeline import build_index

    folder = tmp_path_factory.mktemp("ids")
    record = {"id": "pasar-1", "title": "Pasar malam", "text": ID_TEXT}
    (folder / "articles.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    writable = settings.model_copy(
        update={
            "index_dir": folder / "index",
            "admin_token": SecretStr(ID_TOKEN),
            "rate_limit_per_minute": 0,
        }
    )
    build_index([folder / "articles.jsonl"], writable.index_dir, embedder)
    with TestClient(create_app(writable, embedder), raise_server_exceptions=False) as c:
        yield c


def _names_the_rule(message: str) -> bool:
    return "pattern '^[A-Za-z0-9]" in message or "at most 200 characters" in message


BAD_IDS = ["a/b", "a b", "-a1", ".hidden", "berita\n", "berita-\u00e4", "x" * 201, ""]


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_bodies_with_an_invalid_article_id_get_422_naming_the_pattern(ids_client, bad_id):
    body = {"id": bad_id, "title": "Judul", "text": ID_TEXT}
    for detail in _refusals_of_every_write(ids_client, body):
        assert any(e["loc"][-1] == "id" and _names_the_rule(e["msg"]) for e in detail), detail


def _refusals_of_every_write(client, body: dict) -> list[list[dict]]:  # type: ignore[no-untyped-def]
    """``body`` sent as POST /articles (alone and in a batch) and as PUT /articles/pasar-1:
    each must be a 422 that writes nothing; the details of the three."""
    details = []
    for response in (
        client.post("/articles", json=body, headers=ID_AUTH),
        client.post("/articles", json=[body], headers=ID_AUTH),
        client.put("/articles/pasar-1", json=body, headers=ID_AUTH),
    ):
        assert response.status_code == 422, response.text[:300]
        details.append(response.json()["detail"])
    assert client.get("/articles/pasar-1").json()["text"] == ID_TEXT  # nothing written
    return details


@pytest.mark.parametrize("bad_path", ["a%20b", "-a1", ".hidden", "berita%0A", "x" * 201])
def test_paths_with_an_invalid_article_id_get_422(ids_client, bad_path):
    body = {"title": "Judul", "text": ID_TEXT}
    for response in (
        ids_client.get(f"/articles/{bad_path}"),
        ids_client.put(f"/articles/{bad_path}", json=body, headers=ID_AUTH),
        ids_client.delete(f"/articles/{bad_path}", headers=ID_AUTH),
    ):
        assert response.status_code == 422, (bad_path, response.text[:300])
        [error] = response.json()["detail"]
        assert error["loc"] == ["path", "article_id"] and _names_the_rule(error["msg"])


def test_every_id_that_can_be_written_can_be_read_updated_and_deleted(ids_client):
    """A slash in an id used to be accepted on POST and then unreachable at /articles/{id}."""
    for article_id in ("Ab0._:@+-z", "detik-0050", "9" * 200):
        body = {"id": article_id, "title": "Pasar pagi", "text": "Pasar pagi buka pukul lima."}
        created = ids_client.post("/articles", json=body, headers=ID_AUTH)
        assert created.status_code == 201, created.text[:300]
        read = ids_client.get(f"/articles/{article_id}")
        assert read.status_code == 200 and read.json()["id"] == article_id
        changed = {**body, "text": "Pasar pagi buka pukul enam."}
        updated = ids_client.put(f"/articles/{article_id}", json=changed, headers=ID_AUTH)
        assert updated.status_code == 200 and updated.json()["updated"] == 1
        assert "enam" in ids_client.get(f"/articles/{article_id}").json()["text"]
        assert ids_client.delete(f"/articles/{article_id}", headers=ID_AUTH).status_code == 200
        assert ids_client.get(f"/articles/{article_id}").status_code == 404
    # "a/b" is refused on the way in (above), so no id exists that the paths cannot reach
    slash = ids_client.post("/articles", json={"id": "a/b", "text": ID_TEXT}, headers=ID_AUTH)
    assert slash.status_code == 422


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("titel", "Pasar malam", "Extra inputs are not permitted"),  # a misspelt field
        ("published", "bukan tanggal", "not a date"),
        ("published", "2024-02-30", "not a date"),
        # no month 13: it was stored as 13 January
        ("published", "2025-13-01", "not a date"),
        # a "no date" placeholder from a +08:00 system: year 0 in Jakarta, a 500 before
        ("published", "0001-01-01T00:00:00+08:00", "not a date"),
        ("published", "9999-12-31T23:59:59-12:00", "not a date"),
    ],
)
def test_article_fields_that_would_be_lost_get_422_naming_them(ids_client, field, value, words):
    body = {
        "id": "pasar-1",
        "title": "Pasar malam",
        "text": "Pasar malam dibuka lagi.",
        field: value,
    }
    for detail in _refusals_of_every_write(ids_client, body):
        assert any(e["loc"][-1] == field and words in e["msg"] for e in detail), detail


def test_section_and_outlet_match_whatever_their_spacing(ids_client):
    body = {
        "id": "spasi-1",
        "title": "Perahu hias",
        "text": "Festival perahu hias digelar di tepian sungai.",
        "published": "Senin, 20 Oktober 2025",
        "category": "  budaya ",
        "source": "Warta  Sumsel",
    }
    assert ids_client.put("/articles/spasi-1", json=body, headers=ID_AUTH).status_code == 201
    stored = ids_client.get("/articles/spasi-1").json()
    assert (stored["category"], stored["source"]) == ("budaya", "Warta Sumsel")
    assert stored["published"].startswith("2025-10-20")
    for params in (
        {"category": "Budaya"},
        {"source": "warta sumsel"},
        {"source": " Warta  Sumsel"},
    ):
        found = ids_client.get("/search", params={"q": "perahu hias", **params}).json()
        assert [p["article_id"] for p in found["passages"]] == ["spasi-1"], params
    assert ids_client.get("/stats").json()["by_category"].get("budaya") == 1
    assert ids_client.delete("/articles/spasi-1", headers=ID_AUTH).status_code == 200


@pytest.mark.parametrize(
    ("since", "listed"),
    [("9999-12-31T23:59:59-23:59", False), ("0001-01-01T00:00:00+23:59", True)],
)
def test_article_listing_since_a_time_at_the_calendars_edge(client, since, listed):
    """A ``since`` whose UTC falls outside the years 1-9999 was a 500 (OverflowError); it
    lists nothing after the last moment, and everything after the first."""
    response = client.get("/articles", params={"since": since})
    assert response.status_code == 200, response.text[:300]
    assert bool(response.json()["articles"]) is listed


@pytest.mark.parametrize(
    ("method", "path", "name", "value"),
    [
        ("GET", "/search", "published_from", "2025"),
        ("GET", "/search", "published_to", "2020"),
        ("GET", "/search", "published_from", "1700000000.5"),
        ("GET", "/search", "event_from", "0"),
        ("GET", "/search", "as_of", "86400"),
        ("GET", "/timeline", "published_from", "-1"),
        ("GET", "/articles", "since", "2025"),
        ("POST", "/search", "published_from", 2025),
        ("POST", "/search", "published_to", "2020"),
        ("POST", "/ask", "event_to", 86400),
    ],
)
def test_a_number_is_no_date(client, method, path, name, value):
    """pydantic reads a number as seconds since 1970: ``published_from=2025`` (a year, as a
    user types it) matched every article, and ``published_to=2020`` none, with a 200."""
    if method == "GET":
        response = client.get(path, params={"q": "harga cabai", name: value})
        if path == "/articles":
            response = client.get(path, params={name: value})
    else:
        query = {"question" if path == "/ask" else "q": "harga cabai"}
        field = {name: value}
        body = {**query, **field} if name == "as_of" else {**query, "filters": field}
        response = client.post(path, json=body)
    assert response.status_code == 422, response.text[:300]
    detail = _detail(response)
    assert name in detail and "ISO date" in detail, detail


def test_invisible_characters_inside_words_do_not_split_them(client):
    """Cleaning drops soft hyphens, zero-width spaces, word joiners and BOMs from articles; a
    query that held one inside a word ("har\\u00adga", copied from a web page) searched for
    "har" and "ga", found other articles and highlighted nothing."""
    plain, hidden = "harga cabai Palembang", "har\u00adga ca\u200bbai Pa\u2060lem\ufeffbang"
    expected = client.get("/search", params={"q": plain}).json()
    got = client.get("/search", params={"q": hidden}).json()
    assert got["query"] == hidden  # echoed as typed
    assert expected["passages"] and got["passages"] == expected["passages"]
    assert any(p["highlights"] for p in got["passages"])
    asked = client.post("/ask", json={"question": hidden}).json()
    assert asked["question"] == hidden
    answer = client.post("/ask", json={"question": plain}).json()
    assert (asked["answer"], asked["short_answers"]) == (answer["answer"], answer["short_answers"])


@pytest.mark.parametrize("text", ["?!...", "\u0301\u0301", " — « » ", "\u200b...\u200b?"])
def test_a_question_of_only_punctuation_or_marks_gets_422_naming_it(client, text):
    """Nothing in it to search for: GET /search answered five arbitrary passages and
    /timeline a timeline for "?!...", as if it meant something."""
    responses = {
        "ask": client.post("/ask", json={"question": text}),
        "batch": client.post("/ask/batch", json={"questions": ["harga cabai", text]}),
        "search": client.get("/search", params={"q": text}),
        "timeline": client.get("/timeline", params={"q": text}),
    }
    for name, response in responses.items():
        assert response.status_code == 422, (name, response.text[:300])
        assert "no letter, digit or emoji" in _detail(response), name


@pytest.mark.parametrize(
    ("plain", "odd"),
    [
        ("Palembang meraih penghargaan apa", "Pale\u200cmbang meraih penghargaan apa"),  # ZWNJ
        ("Palembang meraih penghargaan apa", "Pale\u200dmbang meraih penghargaan apa"),  # ZWJ
        ("Palembang meraih penghargaan apa", "Palembang \u202bmeraih\u202c penghargaan apa"),
        ("berapa harga cabai rawit di Palembang", "berapa harga\x00cabai\x01rawit di Palembang"),
        # Cyrillic Р, а, е, а drawn like Latin letters inside a Latin word
        (
            "Palembang meraih penghargaan apa",
            "\u0420\u0430l\u0435mb\u0430ng meraih penghargaan apa",
        ),
    ],
)
def test_format_and_control_characters_in_a_question_change_nothing(client, plain, odd):
    """Joiners and bidi embeddings inside a question split its words for BM25 and reached the
    encoder and the reader ("Pale\u200cmbang ..." abstained where the plain question answered;
    an RLE made the short answer shorter); a NUL between two words glued them for the
    encoder. They are dropped (controls made spaces) wherever the question is read."""
    expected = client.get("/search", params={"q": plain}).json()["passages"]
    got = client.get("/search", params={"q": odd}).json()["passages"]
    assert [p["article_id"] for p in got] == [p["article_id"] for p in expected]
    assert [p["highlights"] for p in got] == [p["highlights"] for p in expected]
    answer = client.post("/ask", json={"question": plain}).json()
    asked = client.post("/ask", json={"question": odd}).json()
    assert asked["question"] == odd  # echoed as typed
    assert not answer["abstained"]
    assert (asked["answer"], asked["short_answers"], asked["citations"]) == (
        answer["answer"],
        answer["short_answers"],
        answer["citations"],
    )


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/search?q=banjir&q=harga+cabai", "q"),
        ("/search?q=harga+cabai&k=1&k=2", "k"),
        ("/search?q=harga&published_from=2025-01-01&published_from=2020-01-01", "published_from"),
        ("/search?q=harga&collapse=true&collapse=false", "collapse"),
        ("/timeline?q=banjir&q=harga+cabai", "q"),
        ("/articles?limit=1&limit=2", "limit"),
    ],
)
def test_a_parameter_that_takes_one_value_given_twice_gets_422(client, url, name):
    """FastAPI kept the last value: ``q=banjir&q=harga`` answered for "harga" alone and two
    ``published_from`` filtered by one, each looking like the answer asked for."""
    response = client.get(url)
    assert response.status_code == 422, response.text[:300]
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", name] and "more than once" in error["msg"]


def test_filters_that_take_several_values_still_take_them_repeated(client):
    url = "/search?q=harga+cabai&k=10&category=Ekonomi&category=Pemerintahan&source=x&source=y"
    assert client.get(url).status_code == 200
    assert client.get("/articles?category=Ekonomi&category=Pemerintahan").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/search?q=harga+cabai&published_from=&published_to=%20&event_from=&event_to=&as_of=",
        "/timeline?q=harga+cabai&published_from=&published_to=&as_of=",
        "/articles?since=&category=&source=",
    ],
)
def test_an_empty_date_is_no_filter_as_an_empty_category_is(client, url):
    """A form with its date fields left empty sends ``published_from=``: that got a 422 ("input
    is too short") while the empty ``category=`` beside it meant "any"."""
    path, query = url.split("?")
    bare = "&".join(p for p in query.split("&") if not p.endswith("=") and "=%20" not in p)
    expected = client.get(f"{path}?{bare}")
    got = client.get(url)
    assert got.status_code == 200, got.text[:300]
    assert {**got.json(), "timings_ms": None} == {**expected.json(), "timings_ms": None}


def test_an_empty_date_in_a_body_is_no_filter(client):
    blank = {"published_from": "", "published_to": " ", "event_from": "", "event_to": ""}
    got = client.post("/search", json={"q": "harga cabai", "filters": blank, "as_of": ""})
    assert got.status_code == 200, got.text[:300]
    assert got.json()["passages"] == client.get("/search?q=harga+cabai").json()["passages"]
    asked = client.post("/ask", json={"question": "harga cabai di Palembang", "filters": blank})
    assert asked.status_code == 200, asked.text[:300]
    # a date that is no date is still refused, naming the field
    wrong = client.get("/search?q=harga&published_from=kemarin")
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == [
        "query",
        "published_from",
    ]


@pytest.mark.parametrize(
    ("value", "loc", "message"),
    [
        ("c" * 300, ["value"], "at most 200 characters"),
        (["Hukum", "c" * 300], ["values", 1], "at most 200 characters"),
        ([], ["values"], "at least 1 item"),
        (5, [], "a string or a list of strings"),
    ],
)
def test_a_bad_filter_value_gets_one_error_naming_it(client, value, loc, message):
    # A plain str | list union answered a 300-character category with two errors: "at most
    # 200 characters" and "Input should be a valid list", the second one not the problem.
    response = client.post("/search", json={"q": "harga cabai", "filters": {"category": value}})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "filters", "category", *loc]
    assert message in error["msg"]


ODD_ARTICLES = [
    {
        "id": "fw-1",
        "title": "Ｐａｌｅｍｂａｎｇ ｔａｈｕｎ ２０２０",
        "url": "https://contoh.id/fw",
        "published": "2020-05-01T10:00:00+07:00",
        "text": "Ｗａｌｉｋｏｔａ Ｐａｌｅｍｂａｎｇ meresmikan jembatan Ｍｕｓｉ baru pada tahun "
        "２０２０ dengan biaya Rp ３ triliun.",
    },
    {
        "id": "zw-1",
        "title": "Banjir melanda Lubuklinggau",
        "url": "https://bücher.example/banjir",
        "published": "2024-02-01T10:00:00+07:00",
        "text": "Banjir besar melanda Lubuk\u200clinggau pada Senin.\r\nRibuan warga "
        "\u202bmengungsi\u202c ke masjid.\fKerugian mencapai Rp 5 juta per rumah.",
    },
]


@pytest.fixture(scope="module")
def odd_client(tmp_path_factory, settings, embedder):
    """An index of articles in full-width letters and with joiners and bidi marks inside
    words, served by the real app."""
    from indexer.pipeline import build_index

    folder = tmp_path_factory.mktemp("odd")
    lines = "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in ODD_ARTICLES)
    (folder / "articles.jsonl").write_text(lines, encoding="utf-8")
    odd = settings.model_copy(update={"index_dir": folder / "index"})
    build_index([folder / "articles.jsonl"], odd.index_dir, embedder)
    with TestClient(create_app(odd, embedder), raise_server_exceptions=False) as c:
        yield c


def _cited_exactly(client, body):
    for cited in body["citations"]:
        text = client.get(f"/articles/{cited['article_id']}").json()["text"]
        assert text[cited["char_start"] : cited["char_end"]] == cited["quote"]
    for short in body["short_answers"]:
        text = client.get(f"/articles/{short['article_id']}").json()["text"]
        assert text[short["char_start"] : short["char_end"]] == short["text"]


def test_an_article_in_full_width_letters_answers_as_in_plain_ones(odd_client):
    """The reader read only articles naming the question's names, compared as stored:
    "Ｍｕｓｉ" was no "Musi", so "Berapa biaya jembatan Musi baru?" abstained (confidence 0.0)
    where the same article in plain letters answered "Rp 3 triliun". The answer is the
    stored text, cited at its offsets."""
    body = odd_client.post("/ask", json={"question": "Berapa biaya jembatan Musi baru?"}).json()
    assert not body["abstained"], body
    assert [s["text"] for s in body["short_answers"]][:1] == ["Rp ３ triliun"]
    _cited_exactly(odd_client, body)
    typed = odd_client.post("/ask", json={"question": "Berapa biaya jembatan Ｍｕｓｉ baru?"})
    assert typed.json()["short_answers"][:1] == body["short_answers"][:1]


def test_a_stored_word_with_a_joiner_inside_is_found_and_highlighted_whole(odd_client):
    body = odd_client.get("/search", params={"q": "banjir Lubuklinggau"}).json()
    passage = body["passages"][0]
    assert passage["article_id"] == "zw-1"
    marked = [passage["text"][a:b] for a, b in passage["highlights"]]
    assert "Lubuk\u200clinggau" in marked
    asked = odd_client.post("/ask", json={"question": "Ke mana warga mengungsi?"}).json()
    _cited_exactly(odd_client, asked)
