"""The LangChain retrievers (in-process and over HTTP) against the real model, the corpus index
and the real server: langchain-tests' standard retriever suite, then what the suite does not
check (k counts passages, ids, citation metadata, filters, errors)."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import date

import httpx
import pytest
from langchain_core.documents import Document
from langchain_tests.integration_tests import RetrieversIntegrationTests
from pydantic import ValidationError

from service.langchain_http_retriever import NewsqaHTTPError, NewsqaHTTPRetriever
from service.langchain_retriever import NewsqaRetriever
from service.retrieval import Filters, HybridRetriever

PALEMBANG_EN = "which Palembang programs won 2020 awards"
CHILI = "harga cabai Palembang"
METADATA = {
    "article_id",
    "title",
    "url",
    "published",
    "source",
    "category",
    "char_start",
    "char_end",
    "score",
    "rank",
    "also_reported_by",
}

# The suite's ainvoke test is a coroutine without a mark, and this project runs pytest-asyncio
# in strict mode: mark the suite classes, and silence the warning the mark earns on their
# synchronous tests.
STANDARD_SUITE_MARKS = [
    pytest.mark.asyncio,
    pytest.mark.filterwarnings(
        "ignore:.*is marked with '@pytest.mark.asyncio' but it is not an async function"
    ),
]


@pytest.fixture(scope="module")
def hybrid(store, embedder) -> HybridRetriever:
    # Not conftest's ``retriever``: inside the suite classes that name is the suite's fixture.
    return HybridRetriever(store, embedder)


@pytest.fixture(scope="module")
def api(live_server):
    with httpx.Client(base_url=live_server, timeout=60) as client:
        yield client


class TestNewsqaRetrieverStandard(RetrieversIntegrationTests):
    pytestmark = STANDARD_SUITE_MARKS

    @pytest.fixture(autouse=True)
    def _index(self, hybrid: HybridRetriever) -> None:
        # the suite reads its constructor parameters from a property, not from fixtures
        self._hybrid = hybrid

    @property
    def retriever_constructor(self) -> type[NewsqaRetriever]:
        return NewsqaRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"retriever": self._hybrid}

    @property
    def retriever_query_example(self) -> str:
        return PALEMBANG_EN


class TestNewsqaHTTPRetrieverStandard(RetrieversIntegrationTests):
    pytestmark = STANDARD_SUITE_MARKS

    @pytest.fixture(autouse=True)
    def _server(self, live_server: str) -> None:
        self._url = live_server

    @property
    def retriever_constructor(self) -> type[NewsqaHTTPRetriever]:
        return NewsqaHTTPRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"url": self._url}

    @property
    def retriever_query_example(self) -> str:
        return PALEMBANG_EN


def test_k_counts_passages_best_first(hybrid):
    hits = hybrid.retrieve(PALEMBANG_EN, k=5)
    spans = [(p.chunk.article_id, p.chunk.char_start) for h in hits for p in h.passages]
    assert len(spans) > 5, "five articles bring more than five passages"
    docs = NewsqaRetriever(retriever=hybrid, k=5).invoke(PALEMBANG_EN)
    assert [(d.metadata["article_id"], d.metadata["char_start"]) for d in docs] == spans[:5]
    ranks = [d.metadata["rank"] for d in docs]
    assert ranks[0] == 1 and ranks == sorted(ranks)


def test_invoke_k_overrides_k_for_one_call(hybrid, live_server):
    for retriever in (
        NewsqaRetriever(retriever=hybrid, k=5),
        NewsqaHTTPRetriever(url=live_server, k=5),
    ):
        assert len(retriever.invoke(CHILI, k=2)) == 2
        assert len(asyncio.run(retriever.ainvoke(CHILI, k=2))) == 2
        assert len(retriever.invoke(CHILI)) == 5
        with pytest.raises(ValueError, match="at least 1"):
            retriever.invoke(CHILI, k=0)


def test_http_retriever_refuses_a_k_the_server_cannot_fill(hybrid, live_server):
    """GET /search returns at most 50 articles: a larger k was sent as 50 and returned fewer
    Documents than asked for, where the in-process retriever returned them all."""
    with pytest.raises(ValidationError, match="less than or equal to 50"):
        NewsqaHTTPRetriever(url=live_server, k=51)
    retriever = NewsqaHTTPRetriever(url=live_server)
    for k in (51, 200):
        with pytest.raises(ValueError, match="at most 50 over HTTP"):
            retriever.invoke(CHILI, k=k)
        with pytest.raises(ValueError, match="at most 50 over HTTP"):
            asyncio.run(retriever.ainvoke(CHILI, k=k))
    local = NewsqaRetriever(retriever=hybrid, k=50).invoke(CHILI)
    remote = retriever.invoke(CHILI, k=50)
    assert [d.id for d in remote] == [d.id for d in local]


def test_ids_are_stable_spans_and_both_retrievers_agree(hybrid, live_server):
    local = NewsqaRetriever(retriever=hybrid, k=8).invoke(PALEMBANG_EN)
    for d in local:
        meta = d.metadata
        assert d.id == f"{meta['article_id']}:{meta['char_start']}-{meta['char_end']}"
    assert len({d.id for d in local}) == len(local)
    again = NewsqaRetriever(retriever=hybrid, k=8).invoke(PALEMBANG_EN)
    assert [d.id for d in again] == [d.id for d in local]
    remote = NewsqaHTTPRetriever(url=live_server, k=8).invoke(PALEMBANG_EN)
    # the same Documents; the score may differ in its last digit (another process embeds)
    assert [_without_score(d) for d in remote] == [_without_score(d) for d in local]
    assert [d.metadata["score"] for d in remote] == pytest.approx(
        [d.metadata["score"] for d in local], abs=1e-5
    )


def _without_score(d: Document) -> tuple:
    meta = {key: value for key, value in d.metadata.items() if key != "score"}
    return d.id, d.page_content, meta


def test_metadata_span_quotes_the_article(hybrid, store, live_server, api):
    local = NewsqaRetriever(retriever=hybrid, k=6).invoke(CHILI)
    remote = NewsqaHTTPRetriever(url=live_server, k=6).invoke(CHILI)
    assert local and remote
    for d in local:
        assert set(d.metadata) == METADATA
        text = store.article(d.metadata["article_id"]).text
        assert text[d.metadata["char_start"] : d.metadata["char_end"]] == d.page_content
    for d in remote:
        assert set(d.metadata) == METADATA
        text = api.get(f"/articles/{d.metadata['article_id']}").json()["text"]
        assert text[d.metadata["char_start"] : d.metadata["char_end"]] == d.page_content


def test_filters_apply(hybrid, live_server):
    local = NewsqaRetriever(retriever=hybrid, k=4, filters=Filters(category="Ekonomi")).invoke(
        CHILI
    )
    remote = NewsqaHTTPRetriever(url=live_server, k=4, filters={"category": "Ekonomi"}).invoke(
        CHILI
    )
    assert local and remote
    assert {d.metadata["category"] for d in local + remote} == {"Ekonomi"}
    either = NewsqaHTTPRetriever(
        url=live_server, k=10, filters={"category": ["Ekonomi", "Kesehatan"]}
    ).invoke(CHILI)
    assert {d.metadata["category"] for d in either} <= {"Ekonomi", "Kesehatan"}
    assert len({d.metadata["category"] for d in either}) == 2
    with pytest.raises(ValidationError, match="unknown filters"):
        NewsqaHTTPRetriever(url=live_server, filters={"categroy": "Ekonomi"})
    # a number was read as seconds after 1970 and sent as a date, matching everything
    for bad in ({"published_from": 2020}, {"category": 2023}, {"category": ["Ekonomi", 7]}):
        with pytest.raises(ValidationError, match="must be text, a date or a date-time"):
            NewsqaHTTPRetriever(url=live_server, filters=bad)


def test_both_retrievers_take_the_same_dict_of_filters(hybrid, live_server):
    """pydantic read a dict given to the in-process retriever as the ``Filters`` dataclass: a
    misspelt filter was dropped (every article matched), a number was seconds after 1970 and a
    day alone as ``published_to`` its midnight, where the HTTP retriever's server keeps the
    whole day (nq-001 was published 2020-11-25 at 15:20). Now both read the same dict as POST
    /search reads its filters."""
    for filters in (
        {"category": ["Ekonomi", "Kesehatan"]},
        {"published_from": "2023-01-01", "published_to": date(2023, 12, 31)},
        {"published_to": date(2020, 11, 25)},
    ):
        local = NewsqaRetriever(retriever=hybrid, k=6, filters=filters).invoke(CHILI)
        remote = NewsqaHTTPRetriever(url=live_server, k=6, filters=filters).invoke(CHILI)
        assert local and [d.id for d in local] == [d.id for d in remote]
    day = NewsqaRetriever(retriever=hybrid, k=3, filters={"published_to": date(2020, 11, 25)})
    assert day.invoke(PALEMBANG_EN)[0].metadata["article_id"] == "nq-001"
    with pytest.raises(ValidationError, match="categroy"):
        NewsqaRetriever(retriever=hybrid, filters={"categroy": "Ekonomi"})
    with pytest.raises(ValidationError, match="published_from"):
        NewsqaRetriever(retriever=hybrid, filters={"published_from": 2023})


def test_http_retriever_refuses_an_empty_list_of_filter_values(live_server):
    """httpx sends no parameter for an empty list: ``{"category": []}`` dropped the filter and
    returned every category's passages, where POST /search answers 422."""
    refused = httpx.post(
        f"{live_server}/search", json={"q": CHILI, "filters": {"category": []}}, timeout=60
    )
    assert refused.status_code == 422
    for name in ("category", "source"):
        with pytest.raises(ValidationError, match=f"filter '{name}' is an empty list"):
            NewsqaHTTPRetriever(url=live_server, filters={name: []})


def test_http_retriever_names_a_dead_server():
    with socket.socket() as s:  # a loopback port nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    retriever = NewsqaHTTPRetriever(url=f"http://127.0.0.1:{port}", timeout=5)
    with pytest.raises(NewsqaHTTPError, match=f"127.0.0.1:{port}/search unreachable"):
        retriever.invoke(CHILI)
    with pytest.raises(NewsqaHTTPError, match=f"127.0.0.1:{port}/search unreachable"):
        asyncio.run(retriever.ainvoke(CHILI))


def test_http_retriever_says_a_silent_server_did_not_answer_in_time():
    """The async call's timeout read "unreachable: ReadTimeout: ", naming no wait."""
    with socket.socket() as server:  # connections queue in the backlog; none is answered
        server.bind(("127.0.0.1", 0))
        server.listen()
        retriever = NewsqaHTTPRetriever(
            url=f"http://127.0.0.1:{server.getsockname()[1]}", timeout=0.5
        )
        with pytest.raises(NewsqaHTTPError, match=r"unreachable: ReadTimeout: \S"):
            retriever.invoke(CHILI)
        with pytest.raises(NewsqaHTTPError, match=r"ReadTimeout: no reply within 0.5 s"):
            asyncio.run(retriever.ainvoke(CHILI))


def test_http_retriever_reports_the_status_of_a_refused_request(live_server):
    retriever = NewsqaHTTPRetriever(url=live_server, filters={"published_from": "not a date"})
    with pytest.raises(NewsqaHTTPError, match=r"/search answered HTTP 422: .*published_from"):
        retriever.invoke(CHILI)


def test_http_retriever_says_what_a_422_refused_without_echoing_the_input(live_server):
    """FastAPI's list of errors was shown as its repr: "[{'type': 'string_too_long', 'loc':
    ['query', 'q'], ..., 'input': '\"xxxx...xxx... (1,202 characters in all)', ...}]"."""
    retriever = NewsqaHTTPRetriever(url=live_server)
    for call in (retriever.invoke, lambda q: asyncio.run(retriever.ainvoke(q))):
        with pytest.raises(NewsqaHTTPError) as refused:
            call("x" * 1200)
        message = str(refused.value)
        assert message.endswith("answered HTTP 422: q: String should have at most 1000 characters")


def _open_connections_to(url: str) -> set[int]:
    """Local ports of this machine's established TCP connections to ``url``'s port (IPv4)."""
    port = httpx.URL(url).port
    found = set()
    with open("/proc/net/tcp", encoding="ascii") as table:
        for line in list(table)[1:]:
            local, remote, state = line.split()[1:4]
            if state == "01" and int(remote.split(":")[1], 16) == port:
                found.add(int(local.split(":")[1], 16))
    return found


def test_http_retriever_keeps_its_connection_and_replaces_one_the_server_closed(live_server):
    """Calls go through one kept-alive connection (a new client and connection per call made
    an invoke 0.19x as fast), and one the server closed while idle (its keep-alive is 5 s) is
    replaced on the next call, not an error."""
    retriever = NewsqaHTTPRetriever(url=live_server, k=3)
    expected = [d.id for d in retriever.invoke(CHILI)]
    time.sleep(6)  # past the server's keep-alive: it closes every idle connection
    before = _open_connections_to(live_server)
    assert [d.id for d in retriever.invoke(CHILI)] == expected
    kept = _open_connections_to(live_server) - before
    assert len(kept) == 1, kept  # the connection stays open after the call
    assert [d.id for d in retriever.invoke(CHILI)] == expected
    assert _open_connections_to(live_server) - before == kept  # and the next call reuses it


def test_http_retriever_in_a_forked_child_uses_a_client_of_its_own(live_server):
    """A child forked after calls (a prefork worker pool) must not write into the parent's
    kept-alive connection: it gets a new client, and the same Documents."""
    import multiprocessing

    from service.langchain_http_retriever import _shared_client

    retriever = NewsqaHTTPRetriever(url=live_server, k=3)
    expected = [d.id for d in retriever.invoke(CHILI)]
    parent_client = _shared_client()  # held, so no new client can take its address
    with multiprocessing.get_context("fork").Pool(1) as pool:
        child_client, got = pool.apply(_ask_in_child, (live_server,))
    assert child_client != id(parent_client)
    assert got == expected
    assert [d.id for d in retriever.invoke(CHILI)] == expected  # the parent's still works


def _ask_in_child(url: str) -> tuple[int, list[str | None]]:
    from service.langchain_http_retriever import _shared_client

    got = [d.id for d in NewsqaHTTPRetriever(url=url, k=3).invoke(CHILI)]
    return id(_shared_client()), got


def test_in_process_retriever_refuses_a_blank_query_as_the_http_one_does(hybrid, live_server):
    """A blank query returned k Documents from the in-process retriever (retrieved for nothing)
    where the HTTP retriever raised the server's 422; ``None`` failed inside the analyzer."""
    for blank in ("", "  ", "\u200b"):
        with pytest.raises(NewsqaHTTPError, match="422"):
            NewsqaHTTPRetriever(url=live_server).invoke(blank)
        with pytest.raises(ValueError, match="query is empty"):
            NewsqaRetriever(retriever=hybrid).invoke(blank)
        with pytest.raises(ValueError, match="query is empty"):
            asyncio.run(NewsqaRetriever(retriever=hybrid).ainvoke(blank))
    with pytest.raises(TypeError, match="query is text, not NoneType"):
        NewsqaRetriever(retriever=hybrid).invoke(None)  # type: ignore[arg-type]
    docs = NewsqaRetriever(retriever=hybrid, k=2).invoke(f"  {CHILI}\u200b ")
    assert [d.id for d in docs] == [
        d.id for d in NewsqaRetriever(retriever=hybrid, k=2).invoke(CHILI)
    ]
