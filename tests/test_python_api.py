"""`newsqa.Index`, the Python API: build, ask, search, add, replace, delete and reopen, with the
real model and reader over a small index; every read checked again after each write."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from indexer.documents import Article
from indexer.store import current_generation
from newsqa import Filters, Index
from newsqa.errors import ArticleNotFoundError, IndexNotFoundError

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "articles.jsonl"

# Written for this test: a fact no corpus article states.
HALTE = {
    "id": "halte-2025",
    "title": "Dishub Palembang Resmikan Halte Bus Baru di Demang Lebar Daun",
    "url": "https://contoh-berita.id/kota/2025/03/03/halte-bus-baru",
    "published": "2025-03-03T10:00:00+07:00",
    "source": "Kabar Kota",
    "text": (
        "Dinas Perhubungan Kota Palembang meresmikan halte bus baru di Jalan Demang Lebar Daun "
        "pada Senin (3/3/2025). Jumlahnya 12 halte, semuanya dilengkapi atap dan kursi tunggu. "
        "Kepala Dinas Perhubungan Palembang, Agus Riyanto, mengatakan pembangunan halte itu "
        "menghabiskan anggaran Rp 2,4 miliar dari APBD kota."
    ),
}
QUESTION = "Berapa jumlah halte bus baru yang diresmikan Dinas Perhubungan Palembang?"


def _cites_exactly(index: Index, answer) -> None:  # type: ignore[no-untyped-def]
    for c in answer.citations:
        assert index.article(c.article_id).text[c.char_start : c.char_end] == c.quote
    for s in answer.short_answers:
        assert index.article(s.article_id).text[s.char_start : s.char_end] == s.text


@pytest.fixture(scope="module")
def index(tmp_path_factory, settings):
    small = tmp_path_factory.mktemp("api") / "small.jsonl"
    lines = CORPUS.read_text(encoding="utf-8").splitlines()[:4]
    small.write_text("\n".join(lines) + "\n", encoding="utf-8")
    index_dir = small.parent / "index"
    with Index.build([small], index_dir, settings) as idx:
        yield idx


def test_importing_newsqa_loads_no_service() -> None:
    code = "import sys, newsqa.errors, newsqa.settings; print('service' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def test_ask_and_search_on_a_built_index(index: Index) -> None:
    hits = index.search("Poltabes Pangling penghargaan inovasi Palembang", k=3)
    assert hits[0].article_id == "nq-001"
    answer = index.ask("Which Palembang programs won 2020 awards?")
    assert not answer.abstained
    assert any(s.article_id == "nq-001" for s in answer.short_answers)
    _cites_exactly(index, answer)


def test_add_replace_delete_and_reopen(index: Index, settings) -> None:
    report = index.add([HALTE])
    assert report.added == 1
    assert index.search(QUESTION, k=3)[0].article_id == "halte-2025"
    answer = index.ask(QUESTION)
    assert not answer.abstained
    assert answer.short_answers[0].article_id == "halte-2025"
    assert "12" in answer.short_answers[0].text
    _cites_exactly(index, answer)

    replaced = {**HALTE, "text": HALTE["text"].replace("Jumlahnya 12 halte", "Jumlahnya 15 halte")}
    index.add([replaced])
    answer = index.ask(QUESTION)
    assert "15" in answer.short_answers[0].text
    _cites_exactly(index, answer)

    with pytest.raises(ArticleNotFoundError, match="no-such-article"):
        index.delete(["halte-2025", "no-such-article"])
    assert index.article("halte-2025") is not None  # nothing removed

    index.delete(["halte-2025"])
    assert index.article("halte-2025") is None
    assert all(h.article_id != "halte-2025" for h in index.search(QUESTION, k=5))

    with Index.open(index.settings.index_dir, settings) as again:
        assert again.article("halte-2025") is None
        answer = again.ask("Which Palembang programs won 2020 awards?")
        assert any(s.article_id == "nq-001" for s in answer.short_answers)
        _cites_exactly(again, answer)


def test_a_bad_record_names_its_field_and_writes_nothing(index: Index) -> None:
    before = index.search(QUESTION, k=1)
    with pytest.raises(ValueError, match="'text'"):
        index.add([{**HALTE, "id": "bad-one", "text": ""}])
    assert index.article("bad-one") is None
    assert [h.article_id for h in index.search(QUESTION, k=1)] == [h.article_id for h in before]
    with pytest.raises(ValueError, match=r"add\[1\]: id 'twice' repeats add\[0\]"):
        index.add([{**HALTE, "id": "twice"}, {**HALTE, "id": "twice", "title": "Other"}])
    assert index.article("twice") is None


def test_a_published_date_that_cannot_be_read_is_refused_naming_the_field(index: Index) -> None:
    """``add`` stored the article undated without a word (it dropped out of every date
    filter), where POST /articles answers 422 "not a date"; now the record is refused, named
    with its field and value, and nothing is written. A date that reads is kept."""
    with pytest.raises(ValueError) as refused:
        index.add([{**HALTE, "id": "dated-ok"}, {**HALTE, "id": "undated", "published": "kemarin"}])
    assert str(refused.value) == (
        "add[1]: 'published' is not a date: 'kemarin' (ISO 8601, or a day, month and year)"
    )
    assert index.article("undated") is None and index.article("dated-ok") is None
    index.add([{**HALTE, "id": "dated-ok", "published": "Rabu, 25 November 2020"}])
    assert index.article("dated-ok").published.date().isoformat() == "2020-11-25"
    index.delete("dated-ok")


def test_a_segment_a_killed_writer_left_half_written_is_ignored_then_swept(
    index: Index, settings
) -> None:
    """A writer killed mid-commit leaves ``segments/.tmp-seg-*``: a read-only open neither
    reads nor counts it (no generation names it), and the next writer, holding the lock
    (so no live writer is using it), removes it."""
    index_dir = index.store.path
    left = index_dir / "segments" / ".tmp-seg-0123456789abcdef"
    left.mkdir()
    (left / "vectors.faiss").write_bytes(b"cut short")
    articles = index.store.manifest.articles
    with Index.open(index_dir, settings) as reader:
        assert reader.store.manifest.articles == articles
        assert reader.search(QUESTION, k=1)
    assert left.is_dir()  # a reader deletes nothing
    index.add([{**HALTE, "id": "after-kill"}])
    assert not left.exists()
    index.delete("after-kill")


def test_one_path_one_id_and_article_objects_are_taken_as_such(index: Index, settings) -> None:
    """``Index.build("/data/berita", ...)`` walked "/" (a string read as its letters),
    ``delete("nq-001")`` named id 'n', and an ``Article`` skipped the id check every other
    way in makes (then an export could not be read back)."""
    from indexer.documents import Article
    from newsqa import Filters

    assert index.settings.index_dir.is_dir()
    with Index.build(str(CORPUS), index.settings.index_dir, settings) as whole:
        assert whole.article("nq-004") is not None  # the one file, indexed
        with pytest.raises(ValueError, match="add\\[0\\]: invalid id 'bad id!'"):
            whole.add([Article(id="bad id!", text="Isi berita.")])
        assert whole.delete("nq-004").removed == 1
        assert whole.article("nq-004") is None
        hits = whole.search("Palembang", k=3, filters=Filters(category="Pemerintahan"))
        assert hits and all(h.passages[0].chunk.category == "Pemerintahan" for h in hits)


def test_reads_in_another_thread_go_on_while_one_writes(index: Index) -> None:
    """Each write reopened the index and closed the generation other threads were reading:
    their searches failed with "Cannot operate on a closed database"."""
    import threading

    errors: list[str] = []
    reads = 0
    stop = threading.Event()

    def read() -> None:
        nonlocal reads
        while not stop.is_set():
            try:
                index.search(QUESTION, k=3)
                index.timeline("halte bus", k=3)
                reads += 1
            except Exception as exc:  # the failure under test, whatever its type
                errors.append(repr(exc))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(4):
            index.add([{**HALTE, "id": f"thread-{i}", "text": HALTE["text"] + f" Hari ke-{i}."}])
    finally:
        stop.set()
        reader.join()
    assert errors == [] and reads > 0
    assert index.delete([f"thread-{i}" for i in range(4)]).removed == 4


def test_arguments_are_checked_as_the_http_api_checks_them(index: Index) -> None:
    """A dict of filters failed deep inside ("'dict' object has no attribute 'mask'"),
    ``k=2.5`` returned 29 hits, and an empty question was answered from nothing."""
    by_dict = index.search(QUESTION, k=3, filters={"source": "Warta Sumsel"})
    assert by_dict and {h.passages[0].chunk.source for h in by_dict} == {"Warta Sumsel"}
    for bad_k in (2.5, True, 0):
        with pytest.raises(ValueError, match="k must be a whole number"):
            index.search(QUESTION, k=bad_k)  # type: ignore[arg-type]
    for blank in ("", " \u200b "):
        with pytest.raises(ValueError, match="empty"):
            index.ask(blank)
    # Over HTTP a question or query of more than 1,000 characters is a 422; here it was read.
    long = " ".join(["Palembang"] * 101)
    with pytest.raises(ValueError, match="1009 characters"):
        index.search(long)
    with pytest.raises(ValueError, match="at most 1000"):
        index.ask(long)
    with pytest.raises(ValueError, match="at most 1000"):
        index.as_retriever().invoke(long)
    with pytest.raises(TypeError, match="collapse must be True or False, not 'no'"):
        index.search(QUESTION, collapse="no")  # type: ignore[arg-type]


def test_a_closed_index_says_so(index: Index, settings) -> None:
    """After close(), reads failed with SQLite's "closed database" and a write reopened it."""
    with Index.open(index.settings.index_dir, settings) as other:
        assert other.search(QUESTION, k=1)
    for call in (lambda: other.search("banjir"), lambda: other.add([HALTE]), other.reload):
        with pytest.raises(RuntimeError, match="this Index is closed"):
            call()
    other.close()  # twice is fine
    assert index.search(QUESTION, k=1)  # the other Index of the directory is not touched


def test_k_omitted_is_the_settings_default_k_as_over_http(index: Index, settings) -> None:
    """GET /search, POST /ask and the CLI take ``NEWSQA_DEFAULT_K`` articles when no k is
    given; ``search`` and ``timeline`` took 10 and ``ask`` 5, whatever the settings said."""
    two = settings.model_copy(update={"default_k": 2})
    with Index.open(index.settings.index_dir, two) as other:
        assert len(other.search("Palembang")) == 2
        assert len(other.ask(QUESTION).hits) == 2
        found = {h.article_id for h in other.search("halte bus Palembang")}
        assert {e.article_id for e in other.timeline("halte bus Palembang")} <= found
        assert len(other.search("Palembang", k=3)) == 3


def test_filters_as_a_dict_are_read_as_post_search_reads_them(index: Index) -> None:
    """A dict's dates, as text or ``date`` (as the HTTP LangChain retriever takes them), failed
    with "'str' object has no attribute 'tzinfo'"; a day alone as ``published_to`` is the
    whole day, as over HTTP (nq-003 was published 2023-02-06 at 11:45)."""
    query = "harga cabai Palembang"
    for day in ("2023-02-06", date(2023, 2, 6)):
        hits = index.search(query, k=5, filters={"published_from": day, "published_to": day})
        assert [h.article_id for h in hits] == ["nq-003"]
    as_filters = index.search(query, k=5, filters=Filters(published_to=datetime(2021, 1, 1)))
    as_text = index.search(query, k=5, filters={"published_to": "2021-01-01T00:00:00"})
    assert [h.article_id for h in as_text] == [h.article_id for h in as_filters]
    with pytest.raises(ValueError, match="published_from"):
        index.search(query, filters={"published_from": 2023})
    with pytest.raises(ValueError, match="categroy"):
        index.search(query, filters={"categroy": "Ekonomi"})


def test_filters_of_the_wrong_type_are_named_where_they_are_made(index: Index) -> None:
    """``newsqa.Filters(published_from="2025-01-01")`` (or a ``date``) failed only when
    searched, deep inside, with "'str' object has no attribute 'tzinfo'"; ``category=5`` with
    "'int' object is not iterable" and ``event_from="2025-01-01"`` with "'str' object has no
    attribute 'toordinal'"."""
    for field, bad, match in (
        ("published_from", "2023-02-06", "Filters.published_from must be a datetime"),
        ("published_to", date(2023, 2, 6), "Filters.published_to must be a datetime"),
        ("event_from", "2023-02-06", "Filters.event_from must be a date"),
        ("category", 5, "Filters.category must be text or a list of texts"),
        ("source", ["Warta Sumsel", 5], "Filters.source must be text or a list of texts"),
        ("source", b"Warta Sumsel", "Filters.source must be text or a list of texts"),
    ):
        with pytest.raises(TypeError, match=match):
            Filters(**{field: bad})
    ok = Filters(
        published_to=datetime(2023, 2, 7),
        category=("Ekonomi",),
        source={"Kabar Nusantara", "Kabar Kota"},
    )
    hits = index.search("harga cabai Palembang", k=5, filters=ok)
    assert hits[0].article_id == "nq-003"
    assert all(h.passages[0].chunk.source in ok.source for h in hits)  # type: ignore[operator]


def test_as_of_that_is_not_a_date_is_named(index: Index) -> None:
    """``as_of="2025-03-03"`` failed inside the question's time parsing with "'str' object has
    no attribute 'year'", in ask, search and timeline alike."""
    question = "halte bus Palembang tahun lalu"
    for call in (index.ask, index.search, index.timeline):
        with pytest.raises(TypeError, match=r"as_of must be a datetime.date, not '2025-03-03'"):
            call(question, as_of="2025-03-03")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="as_of must be a datetime.date, not 20250303"):
            call(question, as_of=20250303)  # type: ignore[arg-type]
    by_date = index.search(question, k=3, as_of=date(2025, 3, 3))
    by_moment = index.search(question, k=3, as_of=datetime(2025, 3, 3, 9))
    assert [h.article_id for h in by_date] == [h.article_id for h in by_moment]


def test_as_of_given_as_a_datetime_counts_from_its_day(index: Index) -> None:
    """A datetime ``as_of`` reached the question's time parsing whole: a question naming a
    month or a day ("Agustus lalu", "sejak 2019", "28 Desember") failed with "can't compare
    datetime.datetime to datetime.date". Now it is its day: Jakarta's for a UTC time."""
    for question in ("halte bus Palembang Agustus lalu", "halte sejak 2019", "halte 28 Desember"):
        by_day = [h.article_id for h in index.search(question, k=3, as_of=date(2025, 3, 3))]
        for moment in (datetime(2025, 3, 3, 9), datetime(2025, 3, 2, 20, tzinfo=UTC)):
            assert [h.article_id for h in index.search(question, k=3, as_of=moment)] == by_day
            assert index.ask(question, k=3, as_of=moment).question == question
            index.timeline(question, k=3, as_of=moment)


def test_records_and_ids_of_the_wrong_type_are_named(index: Index) -> None:
    """``add("...")`` read the text as records, one a letter ("dictionary update sequence
    element #0 has length 1; 2 is required"), ``add([5])`` said "'int' object is not iterable"
    and ``delete([5])`` "no article with id 5"; nothing is written."""
    generation = current_generation(index.settings.index_dir)
    with pytest.raises(TypeError, match="add takes articles"):
        index.add('{"id": "x"}')  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"add\[1\]: an article is an Article or a dict, not 5"):
        index.add([HALTE, 5])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"delete\[0\]: an article id is text, not 5"):
        index.delete([5, "nq-001"])  # type: ignore[list-item]
    assert current_generation(index.settings.index_dir) == generation
    assert index.article("halte-2025") is None and index.article("nq-001") is not None


def test_an_article_object_is_checked_as_a_dict_is(index: Index) -> None:
    """A blank ``Article.text`` was indexed (an article of nothing, a second blank one stored
    as its duplicate); ``published="2025-03-03"`` failed deep in the write with "'str' object
    has no attribute 'isoformat'", ``text=5`` with "'int' object has no attribute
    'casefold'", ``title=None`` with "sequence item 0: expected str instance"."""
    generation = current_generation(index.settings.index_dir)
    text = HALTE["text"]
    with pytest.raises(ValueError, match=r"add\[0\]: Article.text is blank"):
        index.add([Article(id="blank-1", text=" \n ")])
    bad_fields: list[tuple[dict, str]] = [
        ({"published": "2025-03-03"}, "Article.published must be a datetime or None"),
        ({"published": date(2025, 3, 3)}, "Article.published must be a datetime or None"),
        ({"text": 5}, "Article.text must be a string"),
        ({"title": None}, "Article.title must be a string"),
        ({"source": 7}, "Article.source must be a string or None"),
    ]
    for fields, match in bad_fields:
        bad = Article(**{"id": "bad-1", "text": text, **fields})
        with pytest.raises(TypeError, match=rf"add\[1\]: {match}"):
            index.add([Article(id="good-1", text=text), bad])
    assert current_generation(index.settings.index_dir) == generation
    assert index.article("blank-1") is None and index.article("good-1") is None


def test_as_retriever_follows_the_index_through_writes(index: Index) -> None:
    """A LangChain retriever of the index searches what the index has now: one built on the
    open generation's ``HybridRetriever`` (the only way before) kept finding deleted articles
    and missing added ones."""
    retriever = index.as_retriever(k=3, filters={"published_from": "2025-01-01"})
    before = retriever.invoke(QUESTION)
    assert all(d.metadata["article_id"] != "halte-2025" for d in before)
    index.add([HALTE])
    try:
        docs = retriever.invoke(QUESTION)
        assert docs[0].metadata["article_id"] == "halte-2025"
        text = index.article("halte-2025").text
        assert text[docs[0].metadata["char_start"] : docs[0].metadata["char_end"]] == (
            docs[0].page_content
        )
        assert all(d.metadata["published"] >= "2025-01-01" for d in docs)
    finally:
        index.delete(["halte-2025"])
    assert all(d.metadata["article_id"] != "halte-2025" for d in retriever.invoke(QUESTION))


def test_opening_a_file_as_an_index_says_it_is_no_index(settings) -> None:
    """The corpus file given as the index read "CorruptIndexError: cannot read
    articles.jsonl/CURRENT: [Errno 20] Not a directory", as if an index had been damaged."""
    with pytest.raises(IndexNotFoundError, match="is a file, not an index directory"):
        Index.open(CORPUS, settings)


def test_a_page_dated_before_1964_is_in_its_own_days_filter(tmp_path, settings) -> None:
    """A dateline without an offset is WIB in every year: "1 Januari 1960" took Asia/Jakarta's
    offset of the time, +07:30, so the page's midnight was 31 December 1959 in WIB, and the
    filter for its own day left it out while the same date written ISO was found."""
    page = tmp_path / "banjir-1960.txt"
    page.write_text(
        "Banjir Besar Melanda Palembang\nJumat, 1 Januari 1960\n\nBanjir besar merendam "
        "ratusan rumah warga di tepi Sungai Musi, Palembang.\n",
        encoding="utf-8",
    )
    with Index.build([page], tmp_path / "index", settings) as idx:
        assert idx.article("banjir-1960").published == datetime.fromisoformat(
            "1960-01-01T00:00:00+07:00"
        )
        day = {"published_from": "1960-01-01", "published_to": "1960-01-01"}
        assert [h.article_id for h in idx.search("banjir Palembang", filters=day)] == [
            "banjir-1960"
        ]


def test_reads_follow_what_another_writer_committed(index: Index) -> None:
    """Another writer (``newsqa watch``, a server, another ``Index``) replaced and then removed
    an article: this Index kept reading the generation it had opened, quoting the replaced text
    at offsets into it and citing the removed article, until ``reload()`` was called."""
    from indexer.pipeline import write_articles
    from indexer.sources import article_from_record

    index_dir = index.settings.index_dir
    embedder = index._c.embedder

    def written(text: str) -> Article:
        return article_from_record({**HALTE, "text": text}, origin="test")

    write_articles(index_dir, embedder, [written(HALTE["text"])], [])
    assert index.article("halte-2025").text == HALTE["text"]
    text = HALTE["text"].replace("Jumlahnya 12 halte", "Setelah ralat dinas, jumlahnya 15 halte")
    write_articles(index_dir, embedder, [written(text)], [])
    assert index.article("halte-2025").text == text
    answer = index.ask(QUESTION)
    assert "15" in answer.short_answers[0].text
    _cites_exactly(index, answer)

    write_articles(index_dir, embedder, [], ["halte-2025"])
    assert index.article("halte-2025") is None
    assert all(h.article_id != "halte-2025" for h in index.search(QUESTION, k=5))
    assert all(c.article_id != "halte-2025" for c in index.ask(QUESTION).citations)
