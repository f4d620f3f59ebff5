"""The timeline's limit: which dated sentences a long timeline keeps (``service.timeline``)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from newsqa import Index
from service.timeline import build_timeline

# Written for this test: one article about a bridge closed in December 2025, and three older
# stories that name many earlier years.
BRIDGE = {
    "id": "jembatan-musi",
    "title": "Jembatan Gantung Sungai Musi Ditutup untuk Perbaikan",
    "published": "2025-11-20T09:00:00+07:00",
    "text": (
        "Jembatan gantung Sungai Musi di Palembang ditutup untuk perbaikan kabel mulai Senin "
        "(1/12/2025). Dinas PUPR menyebut jembatan gantung itu dibuka kembali pada 15 Desember "
        "2025 setelah kabelnya diganti."
    ),
}
OLDER = [
    {
        "id": f"sejarah-{n}",
        "title": f"Sejarah Pasar Ikan Palembang Bagian {n}",
        "published": "2025-01-10T09:00:00+07:00",
        "text": " ".join(
            f"Pasar ikan di tepi sungai itu diperluas pada tahun {year}." for year in years
        ),
    }
    for n, years in enumerate((range(1980, 1990), range(1990, 2000), range(2000, 2010)))
]


@pytest.fixture(scope="module")
def index(tmp_path_factory, settings):
    folder = tmp_path_factory.mktemp("timeline")
    corpus = folder / "articles.jsonl"
    corpus.write_text("".join(json.dumps(a) + "\n" for a in [BRIDGE, *OLDER]), encoding="utf-8")
    with Index.build([corpus], folder / "index", settings) as idx:
        yield idx


def test_a_cut_timeline_keeps_the_best_ranked_articles_sentences(index: Index) -> None:
    """Cut after sorting by time, the limit kept the earliest sentences whatever their
    article: the bridge's December 2025 closing, the article asked about, was cut from a
    timeline of four articles whose older stories name 30 earlier years."""
    hits = index.search("kapan jembatan gantung Sungai Musi ditutup", k=4)
    assert hits[0].article_id == "jembatan-musi" and len(hits) == 4
    entries = build_timeline(index.store, hits, limit=10)
    assert len(entries) == 10
    assert [e.start for e in entries] == sorted(e.start for e in entries)
    bridge = [(e.expression, e.start) for e in entries if e.article_id == "jembatan-musi"]
    assert bridge == [
        ("Senin (1/12/2025)", date(2025, 12, 1)),
        ("15 Desember 2025", date(2025, 12, 15)),
    ]
    # uncut, the same entries in the same order
    whole = build_timeline(index.store, hits, limit=1000)
    assert len(whole) == 32 and [e for e in whole if e in entries] == entries
