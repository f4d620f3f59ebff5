"""Retrieval, answers, generative checks and the index contract, in-process over the real index."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from eval.questions import load_questions
from indexer.event_time import extract_events, publication_day
from indexer.store import FORMAT_VERSION, IndexStore, IndexWriter
from newsqa.errors import IncompatibleIndexError, IndexNotFoundError
from service.answer import AnswerBuilder
from service.generative import GenerativeAnswerer
from service.langchain_retriever import NewsqaRetriever
from service.retrieval import Filters, FusionWeights, HybridRetriever

REPO = Path(__file__).resolve().parents[1]
PALEMBANG_EN = "which Palembang programs won 2020 awards"


@pytest.fixture(scope="module")
def builder(embedder, settings):
    return AnswerBuilder(embedder, abstain_threshold=settings.abstain_threshold)


def test_every_citation_quotes_the_canonical_text(store, retriever, builder):
    """All answers to the project's reference questions: quote == text[start:end], always."""
    questions = [q.question for q in load_questions(REPO / "eval/questions/corpus.jsonl")]
    checked = 0
    for start in range(0, len(questions), 16):
        batch = questions[start : start + 16]
        for answer in builder.answer_batch(batch, retriever.retrieve_batch(batch, k=5)):
            for c in answer.citations:
                article = store.article(c.article_id)
                assert article.text[c.char_start : c.char_end] == c.quote
                assert f"[{c.n}]" in answer.answer
                checked += 1
    assert checked >= 60


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_each_mode_finds_the_award_article(store, embedder, mode):
    hits = HybridRetriever(store, embedder, mode=mode).retrieve(
        "Poltabes dan Pangling penghargaan Palembang", k=3
    )
    assert hits[0].article_id in {"nq-001", "palembang-awards-2020"}
    assert len({h.article_id for h in hits}) == len(hits)


UNTITLED = [
    {
        "id": "tanpa-judul-1",
        "text": "Kapal motor pengangkut semen karam di perairan Pulau Bangka. Tim SAR gabungan "
        "menyelamatkan sembilan anak buah kapal.",
    },
    {
        "id": "tanpa-judul-2",
        "text": "Harga beras medium di pasar tradisional Kota Jambi naik menjadi Rp 14.000 per "
        "kilogram. Pedagang menyebut pasokan dari Sumatera Barat berkurang.",
    },
]


def test_an_article_without_a_headline_is_found_for_its_own_words(
    corpus_index, embedder, dense, tmp_path
):
    """Among titled articles, an untitled one (wire copy, a CMS record without a title) had
    no headline score where every other candidate had one, and did not reach the top 10 for
    its own words, in Indonesian or English."""
    from indexer.pipeline import build_index

    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    source = tmp_path / "untitled.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in UNTITLED), encoding="utf-8")
    build_index([source], index_dir, embedder, dense=dense)
    store = IndexStore.open(index_dir, dense=dense)
    try:
        retriever = HybridRetriever(store, embedder)
        for query, wanted in (
            ("kapal semen karam di Pulau Bangka", "tanpa-judul-1"),
            ("ship carrying cement sank off Bangka island", "tanpa-judul-1"),
            ("harga beras medium di Jambi naik", "tanpa-judul-2"),
            ("rice prices in Jambi markets", "tanpa-judul-2"),
        ):
            ranked = [h.article_id for h in retriever.retrieve(query, k=10)]
            assert ranked[0] == wanted, (query, ranked)
        # titled articles keep their order among themselves
        ranked = [h.article_id for h in retriever.retrieve(PALEMBANG_EN, k=3)]
        assert ranked[0] in {"nq-001", "palembang-awards-2020"}, ranked
    finally:
        store.close()


def test_retriever_validates_arguments(store, embedder):
    with pytest.raises(ValueError, match="mode must be"):
        HybridRetriever(store, embedder, mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="candidates must be at least 1, got 0"):
        HybridRetriever(store, embedder, candidates=0)
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        HybridRetriever(store, embedder).retrieve("x", k=0)


def test_filters_are_exact(retriever):
    sports = retriever.retrieve("Palembang", k=10, filters=Filters(category="OLAHRAGA"))
    assert sports and all(p.chunk.category == "Olahraga" for h in sports for p in h.passages)
    window = Filters(
        published_from=datetime(2020, 1, 1, tzinfo=UTC),
        published_to=datetime(2020, 12, 31, tzinfo=UTC),
    )
    for hit in retriever.retrieve(PALEMBANG_EN, k=10, filters=window):
        assert hit.passages[0].chunk.published.year == 2020
    assert retriever.retrieve(PALEMBANG_EN, filters=Filters(source="no such outlet")) == []


def test_a_time_in_the_question_is_a_soft_signal(store, embedder):
    """Naming a year lifts the chunks that name a time in it, and less, the articles published
    in it; nothing is filtered out."""
    plain = HybridRetriever(store, embedder).retrieve("Palembang 2019", k=10)
    assert any(h.passages[0].chunk.published.year != 2019 for h in plain)
    flat = FusionWeights(event=0.0, published=0.0)
    unboosted = {
        h.article_id: h.score
        for h in HybridRetriever(store, embedder, weights=flat).retrieve("Palembang 2019", k=10)
    }
    lifts = {
        h.article_id: h.score - unboosted[h.article_id] for h in plain if h.article_id in unboosted
    }
    assert len(lifts) >= 5
    w = FusionWeights()
    assert w.event > w.published > 0
    for article_id, lift in lifts.items():
        article = store.article(article_id)
        names_2019 = any(
            e.start.year <= 2019 <= e.end.year
            for e in extract_events(article.text, publication_day(article.published))
        )
        assert -1e-9 <= lift <= w.event + 1e-9, article_id
        if article.published.year == 2019:
            assert lift >= w.published - 1e-9, article_id
        if not names_2019 and article.published.year != 2019:
            assert lift == pytest.approx(0.0), article_id
    assert max(lifts.values()) == pytest.approx(w.event)  # a chunk naming 2019 ("(15/7/2019)")


def test_relative_times_in_a_question_count_from_as_of(store, embedder):
    """ "tahun lalu" means the year before ``as_of`` (the newest publication day by default)."""
    retriever = HybridRetriever(store, embedder, weights=FusionWeights(event=1.0, published=0.0))
    [top] = retriever.retrieve("jembatan Palembang tahun lalu", k=1, as_of=date(1966, 6, 1))
    assert top.article_id == "nq-002"  # "diresmikan pada 1965": the event lift decides
    assert store.newest_day == max(
        a.published.date() for a in (store.article(i) for i in store.article_ids()) if a.published
    )


def test_english_question_gets_indonesian_evidence(retriever, builder):
    answer = builder.answer(PALEMBANG_EN, retriever.retrieve(PALEMBANG_EN, k=5))
    assert not answer.abstained
    assert "Poltabes" in answer.answer and "Pangling" in answer.answer
    assert answer.evidence_language == "id"


def test_langchain_retriever_returns_documents_with_citation_metadata(retriever, store):
    docs = NewsqaRetriever(retriever=retriever, k=3).invoke(PALEMBANG_EN)
    assert docs
    meta = docs[0].metadata
    article = store.article(meta["article_id"])
    assert article.text[meta["char_start"] : meta["char_end"]] == docs[0].page_content
    assert {"title", "url", "published", "rank", "score"} <= set(meta)
    # a question in capitals ranks as in lower case, as over HTTP (it did not in process)
    shouted = NewsqaRetriever(retriever=retriever, k=5).invoke("SIAPA WALI KOTA PALEMBANG")
    quiet = NewsqaRetriever(retriever=retriever, k=5).invoke("siapa wali kota palembang")
    assert [(d.id, d.metadata["score"]) for d in shouted] == [
        (d.id, d.metadata["score"]) for d in quiet
    ]


def _generative(builder, responses):
    return GenerativeAnswerer(
        FakeListChatModel(responses=responses), extractive=builder, embedder=builder.embedder
    )


def test_generative_answer_keeps_only_supported_cited_sentences(retriever, builder, store):
    hits = retriever.retrieve(PALEMBANG_EN, k=3)
    first = hits[0].passages[0].chunk
    reply = (
        "Palembang won awards for Poltabes and Pangling [1]. "
        "The programs were invented on Mars [7]. "
        "This sentence cites nothing."
    )
    answer = _generative(builder, [reply]).answer(PALEMBANG_EN, hits)
    assert not answer.abstained
    assert answer.answer == "Palembang won awards for Poltabes and Pangling. [1]"
    assert "Mars" not in answer.answer and "cites nothing" not in answer.answer
    assert len(answer.citations) == 1
    citation = answer.citations[0]
    assert citation.article_id == first.article_id
    assert store.article(citation.article_id).text[citation.char_start : citation.char_end] == (
        citation.quote
    )


def test_generative_answer_falls_back_to_extractive(retriever, builder):
    hits = retriever.retrieve(PALEMBANG_EN, k=3)
    for reply in ["NO ANSWER", "Bananas are yellow [2]."]:
        answer = _generative(builder, [reply]).answer(PALEMBANG_EN, hits)
        assert answer.answer == builder.answer(PALEMBANG_EN, hits).answer
    assert (
        _generative(builder, ["x"]).describe()
        == f"generative (FakeListChatModel) over {builder.describe()}"
    )


def test_an_index_a_newer_newsqa_wrote_is_refused_as_newer_and_left_as_it_was(
    corpus_index, tmp_path
):
    """A rollback: the index a newer release wrote, with a field this one lacks, is refused
    as newer (not "unreadable", not "rebuild it", which would lose what it holds), by the
    readers and the writer alike, and nothing in it is touched."""
    copy = tmp_path / "index"
    shutil.copytree(corpus_index, copy)
    gen = copy / (copy / "CURRENT").read_text().strip()
    manifest = json.loads(gen.read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    manifest["shards"] = {"seg-a": 2}
    gen.write_text(json.dumps(manifest))
    before = sorted((p.relative_to(copy), p.stat().st_mtime_ns) for p in copy.rglob("*"))
    newer = f"format version {FORMAT_VERSION + 1}, written by a newer newsqa"
    with pytest.raises(IncompatibleIndexError, match=newer):
        IndexStore.open(copy)
    with (
        pytest.raises(IncompatibleIndexError, match=newer),
        IndexWriter(copy, manifest["model"], manifest["dimension"]) as writer,
    ):
        writer.commit()
    assert sorted((p.relative_to(copy), p.stat().st_mtime_ns) for p in copy.rglob("*")) == before


def test_index_built_for_another_model_is_refused(corpus_index, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(corpus_index, copy)
    with pytest.raises(IncompatibleIndexError, match="was built with model"):
        IndexStore.open(copy, expected_model="intfloat/some-other-model")
    gen = copy / (copy / "CURRENT").read_text().strip()
    manifest = json.loads(gen.read_text())
    manifest["format_version"] = 999
    gen.write_text(json.dumps(manifest))
    with pytest.raises(IncompatibleIndexError, match="format version 999"):
        IndexStore.open(copy)
    with pytest.raises(IndexNotFoundError, match="no index in"):
        IndexStore.open(tmp_path / "missing")
