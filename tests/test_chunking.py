"""Chunker: exact offsets, sentence edges, sizes, overlap, validation."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

from indexer.chunking import LONG_RUN, RUN_WORD_CHARS, Chunker, count_words
from indexer.documents import Article, Chunk
from indexer.sentences import split_sentences

NEWS_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "news"


def detik_articles() -> list[Article]:
    with (NEWS_DIR / "detik-2025.jsonl").open(encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    return [Article(id=r["id"], text=r["text"], title=r.get("title", "")) for r in records]


def long_article(sentences: int = 60) -> Article:
    # sentence i has 8 + i % 7 words, numbered so every sentence is distinct
    parts = []
    for i in range(sentences):
        words = " ".join(f"kata{i}x{j}" for j in range(7 + i % 7))
        parts.append(f"Kalimat{i} {words}.")
        if i % 5 == 4:
            parts.append("\n\n")
        else:
            parts.append(" ")
    return Article(id="long", text="".join(parts))


def assert_exact(article: Article, chunks: list[Chunk]) -> None:
    for i, c in enumerate(chunks):
        assert c.article_id == article.id
        assert c.ordinal == i
        assert 0 <= c.char_start < c.char_end <= len(article.text)
        assert article.text[c.char_start : c.char_end] == c.text
        assert c.text == c.text.strip()


# -- constructor -------------------------------------------------------------------------------


def test_defaults():
    chunker = Chunker()
    assert (chunker.target_words, chunker.max_words, chunker.overlap_words) == (200, 250, 40)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"overlap_words": 300}, "overlap_words must be smaller than target_words (200), got 300"),
        ({"overlap_words": 200}, "overlap_words must be smaller than target_words (200), got 200"),
        ({"overlap_words": -1}, "overlap_words must not be negative, got -1"),
        ({"target_words": 0}, "target_words must be at least 1, got 0"),
        ({"max_words": 100}, "max_words must be at least target_words (200), got 100"),
    ],
)
def test_constructor_validation(kwargs, message):
    with pytest.raises(ValueError) as err:
        Chunker(**kwargs)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_words": 2.5}, "target_words must be an integer, got 2.5"),
        ({"max_words": True}, "max_words must be an integer, got True"),
    ],
)
def test_constructor_rejects_non_integers(kwargs, message):
    with pytest.raises(TypeError) as err:
        Chunker(**kwargs)
    assert str(err.value) == message


# -- small cases -------------------------------------------------------------------------------


def test_short_article_is_one_chunk():
    text = "\n  Presiden menghadiri rapat.  Rapat membahas inflasi.\n\n"
    article = Article(id="a1", text=text)
    chunks = Chunker().split(article)
    assert chunks == [Chunk("a1", 0, 3, 54, "Presiden menghadiri rapat.  Rapat membahas inflasi.")]
    assert_exact(article, chunks)


def test_blank_article_has_no_chunks():
    assert Chunker().split(Article(id="blank", text=" \n\t ")) == []


def test_article_between_target_and_max_is_one_chunk():
    text = " ".join(f"Kalimat nomor {i} cukup pendek." for i in range(45))  # 225 words
    assert count_words(text) == 225
    chunks = Chunker().split(Article(id="mid", text=text))
    assert len(chunks) == 1 and chunks[0].text == text


def test_hand_computed_small_chunker():
    # five sentences of 4 words (17 chars + space); target 8, max 10, overlap 4:
    # two sentences per chunk, the last sentence of each chunk repeated in the next
    sentences = [f"S{i} satu dua tiga." for i in range(5)]
    text = " ".join(sentences)
    article = Article(id="h", text=text)
    chunks = Chunker(target_words=8, max_words=10, overlap_words=4).split(article)
    assert [c.text for c in chunks] == [
        "S0 satu dua tiga. S1 satu dua tiga.",
        "S1 satu dua tiga. S2 satu dua tiga.",
        "S2 satu dua tiga. S3 satu dua tiga.",
        "S3 satu dua tiga. S4 satu dua tiga.",
    ]
    assert [(c.char_start, c.char_end) for c in chunks] == [(0, 35), (18, 53), (36, 71), (54, 89)]
    assert_exact(article, chunks)


def test_no_overlap_when_disabled():
    article = long_article()
    chunks = Chunker(target_words=50, max_words=70, overlap_words=0).split(article)
    assert len(chunks) > 3
    for a, b in pairwise(chunks):
        assert b.char_start > a.char_end


def test_long_article_overlaps_by_whole_sentences():
    article = long_article()
    chunks = Chunker(target_words=60, max_words=80, overlap_words=15).split(article)
    assert len(chunks) >= 5
    assert_exact(article, chunks)
    sentence_starts = {s for s, _ in split_sentences(article.text)}
    sentence_ends = {e for _, e in split_sentences(article.text)}
    for a, b in pairwise(chunks):
        assert a.char_start < b.char_start < a.char_end < b.char_end  # overlap, progress
        shared = article.text[b.char_start : a.char_end]
        assert 8 <= count_words(shared) <= 30  # ~15 words, whole sentences of 8-14 words
        assert b.char_start in sentence_starts and a.char_end in sentence_ends
    for c in chunks:
        assert count_words(c.text) <= 80
    for c in chunks[:-1]:
        assert count_words(c.text) >= 40


def test_overlong_sentence_is_split_by_words():
    words = [f"w{i}" for i in range(600)]
    text = "Awal kalimat. " + " ".join(words) + ". Akhir kalimat."
    article = Article(id="run-on", text=text)
    chunks = Chunker(target_words=200, max_words=250, overlap_words=40).split(article)
    assert_exact(article, chunks)
    assert all(count_words(c.text) <= 250 for c in chunks)
    # every word is in some chunk, and chunk edges fall on word boundaries
    covered = set()
    for c in chunks:
        covered.update(c.text.split())
        assert c.char_start == 0 or text[c.char_start - 1] == " "
        assert c.char_end == len(text) or text[c.char_end] == " "
    assert set(text.split()) <= covered


def test_a_long_run_without_spaces_is_cut_so_no_chunk_is_over_its_size():
    """A 200,000-character base64 run was one word to the word limit, so its chunk was the
    whole run and /search returned a 200 KB passage. Now such a run counts a word per
    ``RUN_WORD_CHARS`` characters and is cut there: every chunk stays near the size of a
    usual one, the chunks still cover the run, and each is an exact slice of the text."""
    import base64
    import random

    run = base64.b64encode(random.Random(7).randbytes(150_000)).decode()
    text = "Banjir melanda Sukajadi. Lampiran data: " + run + " Petugas mengevakuasi warga."
    article = Article(id="b64", text=text)
    chunks = Chunker().split(article)
    assert_exact(article, chunks)
    assert max(len(c.text) for c in chunks) <= 250 * RUN_WORD_CHARS + 100
    assert all(count_words(c.text) <= 250 for c in chunks)
    covered = [False] * len(text)
    for c in chunks:
        covered[c.char_start : c.char_end] = [True] * (c.char_end - c.char_start)
    assert all(covered[i] or text[i] == " " for i in range(len(text)))
    assert count_words(run) == -(-len(run) // RUN_WORD_CHARS)
    assert count_words("a" * LONG_RUN) == 1  # a long URL is still one word


def test_split_many_restarts_ordinals():
    articles = [long_article(), Article(id="short", text="Satu kalimat saja.")]
    chunks = Chunker(target_words=60, max_words=80, overlap_words=15).split_many(articles)
    by_article: dict[str, list[int]] = {}
    for c in chunks:
        by_article.setdefault(c.article_id, []).append(c.ordinal)
    assert by_article["short"] == [0]
    assert by_article["long"] == list(range(len(by_article["long"])))


# -- the detik corpus --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def detik_chunks() -> tuple[list[Article], list[list[Chunk]]]:
    articles = detik_articles()
    chunker = Chunker()
    return articles, [chunker.split(a) for a in articles]


def test_detik_offsets_are_exact(detik_chunks):
    articles, chunked = detik_chunks
    assert len(articles) == 1000
    for article, chunks in zip(articles, chunked):
        assert chunks, article.id
        assert_exact(article, chunks)


def test_detik_word_counts_within_bounds(detik_chunks):
    articles, chunked = detik_chunks
    for article, chunks in zip(articles, chunked):
        counts = [count_words(c.text) for c in chunks]
        assert max(counts) <= 250, article.id
        if count_words(article.text) < 200:
            assert len(chunks) == 1
        # all but the last chunk of an article hold a full passage
        assert all(n >= 140 for n in counts[:-1]), (article.id, counts)
    all_counts = [count_words(c.text) for chunks in chunked for c in chunks]
    assert 150 <= sum(all_counts) / len(all_counts) <= 230


def test_detik_chunks_follow_sentences_and_overlap(detik_chunks):
    articles, chunked = detik_chunks
    pairs = overlapping = 0
    for article, chunks in zip(articles, chunked):
        spans = split_sentences(article.text)
        starts = {s for s, _ in spans}
        ends = {e for _, e in spans}
        long_sentences = [(s, e) for s, e in spans if count_words(article.text[s:e]) > 250]
        for c in chunks:
            inside_long = any(
                s <= c.char_start < e or s < c.char_end <= e for s, e in long_sentences
            )
            if not inside_long:
                assert c.char_start in starts and c.char_end in ends, (article.id, c.ordinal)
        # the whole article is covered
        assert chunks[0].char_start == spans[0][0] and chunks[-1].char_end == spans[-1][1]
        for a, b in pairwise(chunks):
            assert not article.text[a.char_end : b.char_start].strip()  # no gap
            pairs += 1
            overlapping += b.char_start < a.char_end
    assert pairs > 500
    assert overlapping / pairs > 0.95
