"""A model-checked index (issue 16): random sequences of writes against the real writer and
reader, each step compared with a brute-force model.

Hypothesis (``RuleBasedStateMachine``) drives the real ``IndexWriter``/``build_index``, the
real ``IndexStore``/``HybridRetriever`` and the real app (FastAPI ``TestClient``: POST, PUT and
DELETE ``/articles``) over a temporary index directory, with the bundled model. Operations:
add a batch of new articles, update one (text and/or metadata), re-add one unchanged, delete
one (an article, a duplicate's id or an id already gone), add an exact duplicate under another
id, ``--prune`` over a chosen set, a merge forced by a small segment limit, and reopening from
disk. The model keeps the live articles (cleaned by ``article_from_record``), their chunks
(``Chunker``) and the duplicate ids, and answers every query by brute force: exact cosine over
the chunk vectors, and BM25 computed here from ``query_terms`` and the Lucene formula of
``indexer/bm25.py`` over its own live chunks. After every step:

- the counts (articles, chunks, duplicates) and every article's fields equal the model's; a
  deleted id gives None (and 404 over HTTP while an app is open), a duplicate's id resolves to
  the article kept;
- filtered queries (none, category, source, date range, combined, event range) in the three
  modes return only matching live articles; dense mode returns the model's top k (an article ranks by its
  best chunk; ties only within float noise), BM25 mode too, and every live chunk's BM25 score
  equals the model's;
- the stories (``IndexStore.stories``) hold live articles only, each a copy of every other
  member (a long body holds short ones); queries above rank every article on its own
  (``collapse=False``);
- every passage and every citation (``AnswerBuilder``, and ``/ask`` over HTTP) quotes the
  current text of its article at its offsets;
- with NEWSQA_VECTOR_STORE=milvus, the collection holds exactly the live chunks' keys.

Profiles: the default (``make test``: 10 sequences of 10 steps; skipped under
NEWSQA_VECTOR_STORE=milvus, where the milvus profile runs), ``slow`` (``make test-slow``: 20
of 15) and ``milvus`` (``make test-scale``: 5 of 10 against a real Milvus). Each prints
``[model] <profile>: N sequences, M steps in S s``; a step is one operation (the first build
included) followed by every check. All are derandomized, without a database or deadline. Three
more bugs it found (``FOUND``) are fixed, and ``test_found_bug_stays_fixed`` replays each one's
shortest sequence.

Embeddings are memoized by text (``MemoEmbedder``): the same real model, each distinct text
embedded once per session, which is what keeps a hundred writes within a couple of minutes.
HTTP writes run in the app's write worker process (``service/write_worker.py``), one for all
of a profile's apps (``SharedWriteWorker``), which embeds with its own copy of the model: the
vectors it writes differ from the model's by float noise, which ``check_vectors`` measures and
bounds, and which bounds in turn the ties the dense ranking may break otherwise.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from itertools import combinations
from pathlib import Path

import hypothesis
import numpy as np
import pytest
from conftest import write_jsonl
from hypothesis import HealthCheck
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from pydantic import SecretStr

import indexer.store as store_module
from indexer.analyzer import analyze
from indexer.bm25 import K1, B
from indexer.chunking import Chunker
from indexer.dedup import text_key
from indexer.documents import Article, Chunk, searchable_text
from indexer.event_time import extract_events, publication_day
from indexer.pipeline import build_index
from indexer.query_lexicon import query_terms
from indexer.sources import article_from_record
from indexer.store import IndexStore, IndexWriter, chunk_key, content_hash
from indexer.stories import MIN_SHARED, shared_share, shingles
from service.answer import AnswerBuilder
from service.index_open import dense_config
from service.retrieval import Filters, HybridRetriever

WIB = timezone(timedelta(hours=7))
TOKEN = "model-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
K = 5

# -- the articles -------------------------------------------------------------------------------
# Short bodies (2-6 sentences, one chunk each) and a few long ones (two chunks or more). Some
# carry a boilerplate line or paragraph breaks, so the canonical (cleaned) text differs from
# what was sent.
SHORT_BODIES = [
    "Dewan Perwakilan Rakyat mengesahkan rancangan undang-undang desa dalam rapat paripurna. "
    "Seluruh fraksi menyetujui aturan baru tentang dana desa.",
    "Komisi Pemilihan Umum menetapkan jadwal pemilihan kepala daerah serentak. Tahapan "
    "pendaftaran calon dibuka pada bulan depan. Partai politik mulai menyiapkan kandidat.",
    "Gubernur meresmikan jembatan baru yang menghubungkan dua kabupaten di tepi sungai. "
    "Warga menyambut jembatan itu dengan pawai. Perjalanan antar kota kini lebih singkat.",
    "Presiden melantik tiga menteri baru di istana negara. Perombakan kabinet dilakukan untuk "
    "mempercepat program ketahanan pangan. Para menteri langsung menggelar rapat pertama.",
    "Pengadilan negeri menjatuhkan vonis lima tahun penjara kepada terdakwa kasus korupsi "
    "dana bantuan sosial. Jaksa menyatakan pikir-pikir atas putusan tersebut.",
    "Polisi menangkap komplotan pencuri kendaraan bermotor di pinggiran kota. Sebanyak "
    "dua belas sepeda motor curian disita sebagai barang bukti.\n\nBaca juga: Polisi "
    "Bongkar Sindikat Motor Curian\n\nPara tersangka dijerat pasal pencurian dengan pemberatan.",
    "Mahkamah Konstitusi menolak gugatan uji materi undang-undang pemilu. Hakim menilai "
    "dalil pemohon tidak beralasan menurut hukum. Putusan dibacakan dalam sidang terbuka.",
    "Komisi Pemberantasan Korupsi memeriksa seorang bupati sebagai saksi kasus suap proyek "
    "jalan. Pemeriksaan berlangsung selama delapan jam.",
    "Kejaksaan menahan mantan kepala dinas yang diduga menyalahgunakan anggaran pengadaan "
    "alat kesehatan. Kerugian negara ditaksir miliaran rupiah. Penyidik masih menelusuri "
    "aliran dana ke pihak lain.",
    "Harga cabai rawit di pasar tradisional naik tajam menjelang hari raya. Pedagang "
    "menyebut pasokan dari petani berkurang akibat hujan. Pemerintah daerah berjanji "
    "menggelar operasi pasar.",
    "Bank Indonesia menahan suku bunga acuan untuk menjaga stabilitas rupiah. Inflasi "
    "dinilai masih terkendali di dalam sasaran.",
    "Ekspor kopi dari dataran tinggi meningkat berkat permintaan pasar Eropa. Petani "
    "menikmati harga jual yang lebih baik. Koperasi membantu pengemasan dan sertifikasi.",
    "Pemerintah menaikkan anggaran pendidikan untuk membangun sekolah di desa terpencil. "
    "Guru honorer juga mendapat tambahan tunjangan. Program itu dimulai semester depan.",
    "Nelayan mengeluhkan harga solar yang mahal sehingga banyak kapal tidak melaut. "
    "Hasil tangkapan ikan di pelabuhan turun drastis.",
    "Pasar saham ditutup menguat didorong saham perbankan. Investor asing mencatat "
    "pembelian bersih. Analis memperkirakan penguatan berlanjut pekan depan.",
    "Tim sepak bola tuan rumah menang dua gol tanpa balas dalam laga persahabatan di "
    "stadion utama. Pelatih memuji disiplin lini belakang.",
    "Pebulu tangkis muda meraih gelar juara turnamen internasional setelah mengalahkan "
    "unggulan pertama. Kemenangan itu menjadi gelar pertamanya tahun ini.",
    "Ribuan pelari mengikuti maraton tahunan yang melintasi pusat kota. Jalan protokol "
    "ditutup sejak subuh. Panitia menyiapkan pos kesehatan di setiap kilometer.",
    "Klub bola basket ibu kota melaju ke final liga setelah menang dramatis pada babak "
    "tambahan waktu. Penonton memadati gedung olahraga.",
    "Festival tari tradisional digelar di alun-alun dengan peserta dari berbagai daerah. "
    "Penonton memadati lokasi hingga malam hari. Panitia berharap festival menarik wisatawan.",
    "Museum kota membuka pameran naskah kuno yang baru selesai dipugar. Pengunjung dapat "
    "melihat naskah beraksara Jawa dan Bugis.",
    "Banjir merendam ratusan rumah di bantaran sungai setelah hujan deras semalaman. "
    "Warga mengungsi ke masjid dan sekolah terdekat. Petugas membagikan makanan dan selimut.",
    "Gempa bumi berkekuatan sedang mengguncang pesisir selatan. Tidak ada laporan korban "
    "jiwa, namun beberapa bangunan retak. Badan meteorologi memastikan gempa tidak "
    "berpotensi tsunami.",
    "Kebakaran hutan di lahan gambut menyebabkan kabut asap tebal. Sekolah meliburkan "
    "siswa karena kualitas udara memburuk. Helikopter dikerahkan untuk pemadaman.",
    "Rumah sakit daerah membuka layanan cuci darah gratis bagi warga miskin. Antrean "
    "pasien mengular sejak pagi.\n\nAdvertisement\n\nDinas kesehatan menambah tenaga perawat.",
    "Kereta cepat mulai melayani penumpang dengan jadwal tambahan pada akhir pekan. "
    "Tiket habis terjual dalam hitungan jam.",
    "Pemerintah kota menata ulang trotoar dan jalur sepeda di kawasan pusat bisnis. "
    "Pedagang kaki lima dipindahkan ke lokasi baru yang lebih tertib.",
    "Peneliti universitas mengembangkan varietas padi tahan kekeringan. Uji coba di "
    "sawah petani menunjukkan hasil panen naik. Benih akan dibagikan musim tanam berikutnya.",
    "Penyelam menemukan terumbu karang yang rusak akibat bom ikan di perairan pulau kecil. "
    "Aktivis lingkungan meminta patroli laut diperketat.",
    "Bandara internasional memperpanjang landasan pacu agar pesawat berbadan lebar dapat "
    "mendarat. Proyek itu ditargetkan rampung dalam dua tahun.",
]
LONG_BODIES = [
    "\n\n".join(SHORT_BODIES[i] for i in (0, 3, 6, 9, 12, 15, 18, 21))
    + "\n\nRangkuman peristiwa pekan ini disusun oleh redaksi untuk pembaca setia.",
    "\n\n".join(SHORT_BODIES[i] for i in (1, 4, 7, 10, 13, 16, 19, 22, 25))
    + "\n\nCatatan akhir: seluruh informasi dihimpun dari berbagai sumber resmi.",
    "\n\n".join(SHORT_BODIES[i] for i in (2, 5, 8, 11, 14, 17, 20, 23, 26, 28))
    + "\n\nRedaksi akan terus memperbarui berita ini.",
]
BODIES = SHORT_BODIES + LONG_BODIES
TITLES = [
    "",
    "Kabar terbaru dari daerah",
    "Sorotan hukum pekan ini",
    "Ekonomi rakyat bergerak",
    "Laporan khusus redaksi",
    "Berita utama hari ini",
]
CATEGORIES = ["Politik", "Hukum", "Ekonomi", "Olahraga"]
SOURCES = ["Kompas", "Detik", "Tempo", "Antara"]
# No years (the retriever lifts articles of a year named in the question) and no digits.
QUERIES = [
    "harga cabai naik di pasar",
    "vonis korupsi di pengadilan",
    "pemilihan kepala daerah serentak",
    "tim sepak bola menang di stadion",
    "festival tari tradisional",
    "banjir merendam rumah warga",
    "anggaran pendidikan sekolah desa",
    "suku bunga dan inflasi",
    "who won the football match",
    "kebakaran hutan dan kabut asap",
]


@dataclass(frozen=True)
class Spec:
    """What a generated article is made of (indexes into the pools above)."""

    body: int
    title: int = 0
    category: str | None = None
    source: str | None = None
    published: str | None = None  # ISO with the Jakarta offset


def _published(year: int, month: int, day: int, hour: int) -> str:
    return datetime(year, month, day, hour, tzinfo=WIB).isoformat()


specs = st.builds(
    Spec,
    body=st.integers(0, len(BODIES) - 1),
    title=st.integers(0, len(TITLES) - 1),
    category=st.one_of(st.none(), st.sampled_from(CATEGORIES)),
    source=st.one_of(st.none(), st.sampled_from(SOURCES)),
    published=st.one_of(
        st.none(),
        st.builds(
            _published,
            st.integers(2019, 2025),
            st.integers(1, 12),
            st.integers(1, 28),
            st.integers(0, 23),
        ),
    ),
)


def record_of(article_id: str, spec: Spec) -> dict:
    """The corpus JSON record of a spec (what a JSONL file or an HTTP body carries)."""
    record = {
        "id": article_id,
        "title": TITLES[spec.title],
        "text": BODIES[spec.body],
        "url": f"https://berita.contoh.id/{article_id}",
        "published": spec.published,
        "category": spec.category,
        "source": spec.source,
    }
    return {k: v for k, v in record.items() if v not in (None, "")}


@functools.cache
def body_key(body: int) -> str:
    """The words of a body after cleaning (what makes two articles copies)."""
    return text_key(article_from_record({"id": "x", "text": BODIES[body]}, "").text)


# -- the embedder --------------------------------------------------------------------------------

_VECTORS: dict[str, np.ndarray] = {}


class MemoEmbedder:
    """The session's real embedder, each distinct passage embedded once (a pure function of the
    text, so memoizing changes no vector beyond float noise between batch compositions)."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self._inner = inner

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._inner, name)

    def embed_passages(self, texts, cache: bool = False) -> np.ndarray:  # type: ignore[no-untyped-def]
        texts = list(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in _VECTORS]
        if missing:
            _VECTORS.update(zip(missing, self._inner.embed_passages(missing)))
        if not texts:
            return np.zeros((0, self._inner.dimension), dtype=np.float32)
        return np.stack([_VECTORS[t] for t in texts]).astype(np.float32)


# -- the model ------------------------------------------------------------------------------------

_CHUNKER = Chunker()
_TOKENS: dict[str, list[str]] = {}


def _tokens(text: str) -> list[str]:
    if text not in _TOKENS:
        _TOKENS[text] = analyze(text)
    return _TOKENS[text]


def _same_content(a: Article, b: Article) -> bool:
    fields = ("id", "text", "title", "url", "published", "category", "source")
    return all(getattr(a, f) == getattr(b, f) for f in fields)


@dataclass
class Outcome:
    """What a write should report."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    duplicates: dict[str, str] | None = None
    chunks: int = 0  # chunks embedded: those of the added and changed articles only

    @classmethod
    def of(cls, result) -> Outcome:  # type: ignore[no-untyped-def]
        """From an ``IndexReport`` or a write's JSON answer."""
        get = result.get if isinstance(result, dict) else lambda name: getattr(result, name)
        fields = ("added", "updated", "unchanged", "removed", "duplicates", "chunks")
        return cls(*(get(name) for name in fields))


class Model:
    """The index as it should be: live articles, their chunks, the duplicate ids."""

    def __init__(self) -> None:
        self.articles: dict[str, Article] = {}  # live, canonical (cleaned) text
        self.records: dict[str, dict] = {}  # what was last sent for each live article
        self.aliases: dict[str, str] = {}  # duplicate id -> live article kept
        self.gone: set[str] = set()  # ids deleted or pruned (articles and duplicates)
        self.gone_duplicates: set[str] = set()  # the duplicate ids among them
        self.orphans: set[str] = set()  # duplicate ids whose article was deleted
        self.chunks: dict[str, list[Chunk]] = {}

    # writes
    def upsert(self, records: list[dict]) -> Outcome:
        """A batch as ``build_index`` and POST /articles take it: copies within the batch (same
        words) keep the first, an article with the words of a live one becomes its alias."""
        out = Outcome(duplicates={})
        kept: list[Article] = []
        first_of: dict[str, str] = {}
        for record in records:
            article = article_from_record(record, "model")
            key = text_key(article.text)
            if key in first_of:
                out.duplicates[article.id] = first_of[key]
                continue
            first_of[key] = article.id
            kept.append(article)
        live_keys = {text_key(a.text): a.id for a in self.articles.values()}
        staged: dict[str, Article] = {}
        for article in kept:
            current = self.articles.get(article.id)
            if current is not None:
                if _same_content(current, article):
                    out.unchanged += 1
                else:
                    out.updated += 1
                    staged[article.id] = article
                continue
            copy = live_keys.get(text_key(article.text))
            if copy is not None and copy != article.id:
                out.duplicates[article.id] = copy
                continue
            out.added += 1
            staged[article.id] = article
        by_id = {r["id"]: r for r in records}
        for article_id, article in staged.items():
            self.articles[article_id] = article
            self.records[article_id] = by_id[article_id]
            self.chunks[article_id] = _CHUNKER.split(article)
            self.gone.discard(article_id)
            out.chunks += len(self.chunks[article_id])
        # a copy of a batch article that is itself a copy of a live one resolves to that one
        within = {a: k for a, k in out.duplicates.items() if k in first_of.values()}
        for alias, kept_id in out.duplicates.items():
            if alias not in within:
                self.aliases[alias] = kept_id
        for alias, kept_id in within.items():
            self.aliases[alias] = out.duplicates[alias] = self.resolve(kept_id) or kept_id
        return out

    def delete(self, article_id: str) -> bool:
        if article_id in self.articles:
            del self.articles[article_id], self.records[article_id], self.chunks[article_id]
            for alias in [a for a, k in self.aliases.items() if k == article_id]:
                del self.aliases[alias]
                self.orphans.add(alias)
        elif article_id in self.aliases:
            del self.aliases[article_id]
            self.gone_duplicates.add(article_id)
        else:
            return False
        self.gone.add(article_id)
        return True

    def prune(self, records: list[dict]) -> Outcome:
        """The index becomes the file: the articles and duplicate ids it lacks go first (a
        duplicate id goes with its article or on its own), then the file is upserted."""
        present = {r["id"] for r in records}
        absent = [a for a in self.articles if a not in present]
        absent += [a for a in self.aliases if a not in present]
        for article_id in absent:
            if not self.delete(article_id) and article_id in self.orphans:
                self.orphans.discard(article_id)  # its article went first
                self.gone.add(article_id)
                self.gone_duplicates.add(article_id)
        out = self.upsert(records)
        out.removed = len(absent)
        return out

    # reads
    def resolve(self, article_id: str) -> str | None:
        if article_id in self.articles:
            return article_id
        return self.aliases.get(article_id)

    def live_chunks(self) -> list[tuple[Article, Chunk]]:
        return [(self.articles[a], c) for a in sorted(self.articles) for c in self.chunks[a]]

    def matches(self, article: Article, filters: Filters) -> bool:
        if filters.category is not None and (article.category or "").casefold() != (
            filters.category.casefold()
        ):
            return False
        if filters.source is not None and (article.source or "").casefold() != (
            filters.source.casefold()
        ):
            return False
        if filters.published_from is not None and (
            article.published is None or article.published < filters.published_from
        ):
            return False
        if filters.published_to is not None and (
            article.published is None or article.published > filters.published_to
        ):
            return False
        if filters.event_from is not None or filters.event_to is not None:
            first = filters.event_from or date.min
            last = filters.event_to or date.max
            events = extract_events(article.text, publication_day(article.published))
            return any(e.end >= first and e.start <= last for e in events)
        return True

    def dense_best(self, q_vec: np.ndarray, embedder: MemoEmbedder) -> dict[str, float]:
        """Each live article's best chunk cosine with the question (exact)."""
        pairs = self.live_chunks()
        vectors = embedder.embed_passages([searchable_text(a.title, c.text) for a, c in pairs])
        best: dict[str, float] = {}
        for (article, _), score in zip(pairs, vectors @ q_vec):
            best[article.id] = max(best.get(article.id, -math.inf), float(score))
        return best

    def bm25(self, query: str) -> dict[tuple[str, int], float]:
        """BM25 (Lucene variant, ``indexer/bm25.py``) of every live chunk, from scratch."""
        pairs = self.live_chunks()
        docs = [_tokens(searchable_text(a.title, c.text)) for a, c in pairs]
        n = len(docs)
        if not n:
            return {}
        avg = sum(len(d) for d in docs) / n
        terms = list(dict.fromkeys(query_terms(query)))
        df = {t: sum(t in d for d in docs) for t in terms}
        scores = {}
        for (article, chunk), doc in zip(pairs, docs):
            tf = Counter(doc)
            score = 0.0
            for t in terms:
                if tf[t]:
                    idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                    score += idf * tf[t] / (tf[t] + K1 * (1 - B + B * len(doc) / avg))
            scores[(article.id, chunk.ordinal)] = score
        return scores

    def keys(self) -> np.ndarray:
        """The chunk keys a Milvus collection must hold (``indexer.dense.base.chunk_key``)."""
        return np.sort(
            np.array(
                [
                    chunk_key(a.id, content_hash(a), c.ordinal)
                    for a in self.articles.values()
                    for c in self.chunks[a.id]
                ],
                dtype=np.int64,
            )
        )


# -- the machine ----------------------------------------------------------------------------------

_BUILD_TAKES_MAX_SEGMENTS = "max_segments" in inspect.signature(build_index).parameters


@dataclass
class Run:
    """What a profile's machines share, and what they count."""

    embedder: MemoEmbedder
    settings: object  # newsqa.settings.Settings (index_dir set per machine)
    root: Path
    sequences: int = 0
    steps: int = 0


class IndexMachine(RuleBasedStateMachine):
    run: Run  # set by ``run_profile``

    def __init__(self) -> None:
        super().__init__()
        run = self.run
        run.sequences += 1
        self.embedder = run.embedder
        self.index_dir = run.root / f"seq-{run.sequences:03d}" / "index"
        self.work = self.index_dir.parent
        self.work.mkdir(parents=True)
        self.settings = run.settings.model_copy(update={"index_dir": self.index_dir})
        self.dense = dense_config(self.settings)  # the writers' and readers' vector store
        self.model = Model()
        self.serial = 0  # article ids
        self.files = 0  # JSONL files written
        self.step = 0
        self.reader: IndexStore | None = None
        self.client = None
        self.answers = AnswerBuilder(self.embedder)
        self.noise = 0.0  # how far the index's vectors are from the model's (``check_vectors``)

    # helpers
    def new_id(self) -> str:
        self.serial += 1
        return f"nq-{self.serial:03d}"

    def pick(self, ids, n: int) -> str:  # type: ignore[no-untyped-def]
        ids = sorted(ids)
        return ids[n % len(ids)]

    def write_file(self, records: list[dict]) -> Path:
        self.files += 1
        return write_jsonl(self.work / f"batch-{self.files:03d}.jsonl", records)

    def build(self, records: list[dict], **options) -> Outcome:  # type: ignore[no-untyped-def]
        report = build_index(
            [self.write_file(records)],
            self.index_dir,
            self.embedder,
            dense=self.dense,
            **options,
        )
        assert report.skipped == [], report.skipped
        return Outcome.of(report)

    def app(self):  # type: ignore[no-untyped-def]
        """The live app over the index, started on first use (TestClient runs its lifespan)."""
        if self.client is None:
            from fastapi.testclient import TestClient

            from service.app import create_app

            app_settings = self.settings.model_copy(
                update={
                    "admin_token": SecretStr(TOKEN),
                    "rate_limit_per_minute": 0,
                    "reload_interval": 60.0,  # swaps happen on writes, or when told below
                    "write_lock_timeout": 10.0,
                }
            )
            self.client = TestClient(create_app(app_settings, self.embedder))
            self.client.__enter__()
        return self.client

    def post(self, records: list[dict]) -> Outcome:
        body = records[0] if len(records) == 1 else records
        response = self.app().post("/articles", json=body, headers=AUTH)
        assert response.status_code == (201 if response.json().get("added") else 200), response.text
        return Outcome.of(response.json())

    def upsert(self, records: list[dict], via: str) -> None:
        expected = self.model.upsert(records)
        got = self.build(records) if via == "index" else self.post(records)
        assert got == expected, f"{via} reported {got}, the model expects {expected}"
        self.after_write()

    def after_write(self) -> None:
        """Open the new generation like the service does (reusing loaded segments); a running
        app that did not make the write swaps to it now."""
        previous = self.reader
        self.reader = IndexStore.open(
            self.index_dir,
            reuse=previous.segment_map() if previous else None,
            dense=self.dense,
        )
        self.close_unused(previous)
        if self.client is not None:
            self.client.app.state.live.reload()

    def close_unused(self, previous: IndexStore | None) -> None:
        kept = set(map(id, self.reader.segments)) if self.reader else set()
        for seg in previous.segments if previous else []:
            if id(seg) not in kept:
                seg.close()

    def teardown(self) -> None:
        if self.client is not None:
            self.client.__exit__(None, None, None)
            self.client = None
        if self.reader is not None:
            self.reader.close()
        self.run.steps += self.step
        shutil.rmtree(self.work, ignore_errors=True)

    # operations
    @initialize(batch=st.lists(specs, min_size=2, max_size=4))
    def start(self, batch: list[Spec]) -> None:
        records = [record_of(self.new_id(), spec) for spec in batch]
        expected = self.model.upsert(records)
        assert self.build(records) == expected
        self.after_write()

    @rule(batch=st.lists(specs, min_size=1, max_size=3), via=st.sampled_from(["index", "http"]))
    def add(self, batch: list[Spec], via: str) -> None:
        self.upsert([record_of(self.new_id(), spec) for spec in batch], via)

    @precondition(lambda self: self.model.articles)
    @rule(
        n=st.integers(0, 50),
        spec=specs,
        what=st.sampled_from(["text", "metadata", "both"]),
        via=st.sampled_from(["index", "http"]),
    )
    def update(self, n: int, spec: Spec, what: str, via: str) -> None:
        article_id = self.pick(self.model.articles, n)
        record = dict(self.model.records[article_id])
        new = record_of(article_id, spec)
        if what in ("text", "both"):
            # The words of another live article would make two live copies, which no write
            # of a new article can make: take the next body no other live article has.
            taken = {text_key(a.text) for a in self.model.articles.values() if a.id != article_id}
            body = spec.body
            while body_key(body) in taken:
                body = (body + 1) % len(BODIES)
            record["text"] = BODIES[body]
        if what in ("metadata", "both"):
            for field in ("title", "published", "category", "source"):
                record.pop(field, None)
                if field in new:
                    record[field] = new[field]
        if via == "index":
            self.upsert([record], via)
            return
        expected = self.model.upsert([record])
        response = self.app().put(f"/articles/{article_id}", json=record, headers=AUTH)
        assert response.status_code == 200, response.text
        got = Outcome.of(response.json())
        assert got == expected, f"PUT reported {got}, the model expects {expected}"
        self.after_write()

    @precondition(lambda self: self.model.articles)
    @rule(n=st.integers(0, 50), via=st.sampled_from(["index", "http"]))
    def readd(self, n: int, via: str) -> None:
        article_id = self.pick(self.model.articles, n)
        self.upsert([dict(self.model.records[article_id])], via)

    @precondition(lambda self: self.model.articles)
    @rule(
        n=st.integers(0, 50),
        spaced=st.booleans(),
        spec=specs,
        via=st.sampled_from(["index", "http"]),
    )
    def duplicate(self, n: int, spaced: bool, spec: Spec, via: str) -> None:
        """The words of a live article under a new id (and its own title, date, source)."""
        kept = self.pick(self.model.articles, n)
        text = self.model.records[kept]["text"]
        if spaced:  # same words, other spacing and case: still a copy
            text = "  " + text.replace(". ", ".   ").upper()
        copy = self.new_id()
        self.upsert([{**record_of(copy, spec), "text": text}], via)
        assert self.model.resolve(copy) == kept

    @rule(
        which=st.sampled_from(["article", "duplicate", "gone", "unknown"]),
        n=st.integers(0, 50),
        via=st.sampled_from(["writer", "http"]),
    )
    def delete(self, which: str, n: int, via: str) -> None:
        gone = self.model.gone | self.model.orphans
        pools = {"article": self.model.articles, "duplicate": self.model.aliases, "gone": gone}
        pool = pools.get(which)
        article_id = self.pick(pool, n) if pool else f"nq-unknown-{n}"
        existed = self.model.delete(article_id)
        if via == "http":
            response = self.app().delete(f"/articles/{article_id}", headers=AUTH)
            assert response.status_code == (200 if existed else 404), response.text
            assert not existed or response.json()["removed"] == 1, response.text
        else:
            with IndexWriter(
                self.index_dir, self.embedder.name, self.embedder.dimension, dense=self.dense
            ) as writer:
                assert bool(writer.delete([article_id])) == existed, article_id
                writer.commit()
        self.after_write()

    @precondition(lambda self: self.model.articles)
    @rule(keep=st.lists(st.booleans(), min_size=1, max_size=12), new=st.none() | specs)
    def prune(self, keep: list[bool], new: Spec | None) -> None:
        """``newsqa index --prune`` over the chosen live articles (and maybe a new one)."""
        ids = sorted(self.model.articles)
        chosen = [a for i, a in enumerate(ids) if keep[i % len(keep)]]
        records = [dict(self.model.records[a]) for a in dict.fromkeys(chosen)]
        if new is not None:
            records.append(record_of(self.new_id(), new))
        if not records:
            records = [dict(self.model.records[ids[0]])]
        expected = self.model.prune(records)
        got = self.build(records, prune=True)
        assert got == expected, f"prune reported {got}, the model expects {expected}"
        self.after_write()

    @rule(limit=st.integers(1, 3), spec=specs)
    def merge(self, limit: int, spec: Spec) -> None:
        """A write under a small segment limit (``max_segments``): the small segments are merged
        (a write that changes nothing commits nothing, so it adds an article)."""
        before = len(self.reader.manifest.segments)
        records = [record_of(self.new_id(), spec)]
        expected = self.model.upsert(records)
        if _BUILD_TAKES_MAX_SEGMENTS:
            got = self.build(records, max_segments=limit)
        else:  # the code before ``max_segments`` (issue 16's first run): the module's limit
            saved, store_module.MAX_SEGMENTS = store_module.MAX_SEGMENTS, limit
            try:
                got = self.build(records)
            finally:
                store_module.MAX_SEGMENTS = saved
        assert got == expected, f"reported {got}, the model expects {expected}"
        self.after_write()
        segments = self.reader.manifest.segments
        if before + 1 > limit:  # all but the largest are merged (or all of them)
            assert len(segments) <= max(limit, 2), segments

    @rule(restart_app=st.booleans())
    def reopen(self, restart_app: bool) -> None:
        """Open the index from disk afresh (no segment reused); maybe restart the app too."""
        previous = self.reader
        self.reader = IndexStore.open(self.index_dir, dense=self.dense)
        self.close_unused(previous)
        if restart_app and self.client is not None:
            self.client.__exit__(None, None, None)
            self.client = None

    # the checks
    @invariant()
    def agrees_with_the_model(self) -> None:
        if self.reader is None:  # before the first commit
            return
        self.step += 1
        rng = random.Random(self.step)
        store = self.reader
        self.check_contents(store)
        self.check_vectors(store)
        self.check_stories(store)
        queries = rng.sample(QUERIES, 2)
        for query in queries:
            self.check_bm25_scores(store, query)
        for filters in self.filters(rng):
            for i, query in enumerate(queries):
                self.check_queries(store, query, filters, answer=i == 0)
        if self.client is not None:
            self.check_app(rng)
        if self.settings.vector_store == "milvus":
            self.check_milvus(store)

    def filters(self, rng: random.Random) -> list[Filters]:
        category = rng.choice([*CATEGORIES, "politik", "EKONOMI", "Budaya"])
        source = rng.choice([*SOURCES, "tempo", "Republika"])
        start = rng.randint(2019, 2025)
        end = rng.randint(start, 2025)
        since = datetime(start, rng.randint(1, 12), 1, tzinfo=WIB)
        until = datetime(end, 12, 31, 23, 59, 59, tzinfo=WIB)
        # the bodies name relative times ("bulan depan", "pekan ini"): an article has events
        # only with a publication date, and which ones pass depends on it
        event_from = date(start, rng.randint(1, 12), 1)
        event_to = date(end, 12, 31) if rng.random() < 0.7 else None
        return [
            Filters(),
            Filters(category=category),
            Filters(source=source),
            Filters(published_from=since, published_to=until),
            rng.choice(
                [
                    Filters(category=rng.choice(CATEGORIES), published_from=since),
                    Filters(source=rng.choice(SOURCES), published_to=until),
                    Filters(category=rng.choice(CATEGORIES), source=rng.choice(SOURCES)),
                ]
            ),
            Filters(event_from=event_from, event_to=event_to),
        ]

    def check_contents(self, store: IndexStore) -> None:
        model = self.model
        m = store.manifest
        chunks = sum(len(c) for c in model.chunks.values())
        assert (m.articles, m.chunks, m.duplicates) == (
            len(model.articles),
            chunks,
            len(model.aliases),
        ), (
            f"manifest {m.articles}/{m.chunks}/{m.duplicates}, model {len(model.articles)}/{chunks}/{len(model.aliases)}"
        )
        assert int(store.live.sum()) == chunks
        assert sorted(store.article_ids()) == sorted(model.articles)
        assert store.aliases == model.aliases
        for article_id, article in model.articles.items():
            found = store.article(article_id)
            assert found is not None and _same_content(found, article), article_id
        for alias, kept in model.aliases.items():
            found = store.article(alias)
            assert found is not None and found.id == kept, alias
        for article_id in model.gone | model.orphans:
            assert store.article(article_id) is None, f"{article_id} was deleted"
        # every live row, with its offsets, is a chunk of the current text
        live_rows = np.flatnonzero(store.live)
        records = store.chunks(live_rows)
        expected = {(a.id, c.ordinal): c for a, c in model.live_chunks()}
        got = {(r.article_id, r.ordinal): r for r in records}
        assert got.keys() == expected.keys()
        for key, record in got.items():
            chunk = expected[key]
            assert (record.char_start, record.char_end, record.text) == (
                chunk.char_start,
                chunk.char_end,
                chunk.text,
            ), key

    def check_stories(self, store: IndexStore) -> None:
        """Stories hold live articles only, each a copy of every other member (the long
        bodies hold short ones), and an article's story lists it first."""
        texts = {a: shingles(art.text) for a, art in self.model.articles.items()}
        members: dict[str, list[str]] = {}
        for article_id, story in store.stories.items():
            assert article_id in self.model.articles, f"story of a gone article {article_id}"
            members.setdefault(story, []).append(article_id)
        for story, group in members.items():
            assert len(group) >= 2 and story == min(group), (story, group)
            for a, b in combinations(group, 2):
                assert shared_share(texts[a], texts[b]) >= MIN_SHARED, (a, b)
            assert store.story_members(group[-1])[0] == group[-1]

    def check_vectors(self, store: IndexStore) -> None:
        """Every live row holds its chunk's vector and its article's headline vector. They may
        differ from the model's by float noise only (the HTTP write worker embeds with its own
        copy of the model, in other batches): how much, bounds the ties the dense ranking may
        break otherwise."""
        rows = np.flatnonzero(store.live)
        if not len(rows):
            self.noise = 0.0
            return
        titles = [self.model.articles[r.article_id].title for r in store.chunks(rows)]
        texts = [searchable_text(t, r.text) for t, r in zip(titles, store.chunks(rows))]
        gaps = np.linalg.norm(store.vectors_of(rows) - self.embedder.embed_passages(texts), axis=1)
        headlines = np.array(
            [
                self.embedder.embed_passages([t])[0] if t else np.zeros(self.embedder.dimension)
                for t in titles
            ]
        )
        gaps = np.concatenate(
            [gaps, np.linalg.norm(store.headline_vectors_of(rows) - headlines, axis=1)]
        )
        self.noise = float(gaps.max())
        assert self.noise <= 0.02, f"a row holds another text's vector (distance {self.noise})"

    def check_bm25_scores(self, store: IndexStore, query: str) -> None:
        expected = self.model.bm25(query)
        terms = query_terms(query)
        rows = np.flatnonzero(store.live)
        records = store.chunks(rows)
        every = store.bm25.scores(terms)
        chosen = store.bm25.scores_of(rows, terms)
        for record, score, score_of in zip(records, every[rows], chosen):
            want = expected[(record.article_id, record.ordinal)]
            assert abs(score - want) <= 1e-4 * max(1.0, want), (query, record.article_id)
            assert abs(score_of - want) <= 1e-4 * max(1.0, want), (query, record.article_id)
        assert not every[~store.live].any(), "a deleted row has a BM25 score"

    def check_queries(self, store: IndexStore, query: str, filters: Filters, answer: bool) -> None:
        model = self.model
        matching = {a for a, art in model.articles.items() if model.matches(art, filters)}
        q_vec = self.embedder.embed_queries([query])[0]
        for mode in ("dense", "bm25", "hybrid"):
            # every article ranked on its own: stories are checked apart (check_stories)
            retriever = HybridRetriever(store, self.embedder, mode=mode)
            hits = retriever.retrieve(query, K, filters, collapse=False)
            ids = [h.article_id for h in hits]
            where = f"{mode} {query!r} {filters}"
            assert set(ids) <= matching, f"{where}: {set(ids) - matching} do not match"
            assert len(set(ids)) == len(ids), where
            self.check_passages(hits, where)
            if mode == "dense":
                best = model.dense_best(q_vec, self.embedder)
                ranked = sorted((best[a] for a in matching), reverse=True)[:K]
                assert len(ids) == len(ranked), f"{where}: {ids}, model {len(ranked)}"
                for i, hit in enumerate(hits):
                    assert abs(best[hit.article_id] - ranked[i]) <= 2 * self.noise + 1e-5, (
                        f"{where}: #{i} {hit.article_id} ({best[hit.article_id]:.6f}), the "
                        f"model's #{i} scores {ranked[i]:.6f}"
                    )
                    assert abs(hit.score - best[hit.article_id]) <= self.noise + 1e-5, where
            elif mode == "bm25":
                scores = model.bm25(query)
                best_lex: dict[str, float] = {}
                for (article_id, _), score in scores.items():
                    if article_id in matching and score > 0:
                        best_lex[article_id] = max(best_lex.get(article_id, 0.0), score)
                ranked = sorted(best_lex.values(), reverse=True)[:K]
                assert len(ids) == len(ranked), f"{where}: {ids}, model {len(ranked)}"
                top = ranked[0] if ranked else 1.0
                for i, hit in enumerate(hits):
                    assert abs(best_lex[hit.article_id] - ranked[i]) <= 1e-4 * top, where
                # the chunks BM25 nominates (MaxScore over each segment, tombstones and the
                # filter as a mask): the best K of the matching live ones
                rows = store.bm25.top(query_terms(query), K, filters.mask(store))
                found = sorted(
                    (scores[(r.article_id, r.ordinal)] for r in store.chunks(rows)), reverse=True
                )
                wanted = sorted(
                    (v for (a, _), v in scores.items() if a in matching and v > 0), reverse=True
                )[:K]
                assert np.allclose(found, wanted, rtol=1e-4, atol=1e-6), f"{where}: top chunks"
            else:
                assert len(ids) == min(K, len(matching)), f"{where}: {ids}, {len(matching)}"
                if answer and hits:
                    built = self.answers.answer_batch([query], [hits], np.array([q_vec]))[0]
                    for citation in built.citations:
                        article = model.articles[citation.article_id]
                        assert citation.article_id in matching, where
                        quote = article.text[citation.char_start : citation.char_end]
                        assert citation.quote == quote, f"{where}: stale citation {citation}"

    def check_passages(self, hits, where: str) -> None:  # type: ignore[no-untyped-def]
        for hit in hits:
            article = self.model.articles[hit.article_id]
            stored = self.reader.article(hit.article_id)
            for passage in hit.passages:
                c = passage.chunk
                assert c.article_id == hit.article_id, where
                assert c.text == stored.text[c.char_start : c.char_end], where
                assert c.text == article.text[c.char_start : c.char_end], f"{where}: stale"
                assert (c.title, c.category, c.source, c.published) == (
                    article.title,
                    article.category,
                    article.source,
                    article.published,
                ), f"{where}: stale metadata of {hit.article_id}"

    def check_app(self, rng: random.Random) -> None:
        """The app serves the same generation: counts, articles, 404s, search and answers."""
        client = self.client
        model = self.model
        ready = client.get("/ready").json()
        assert (ready["articles"], ready["chunks"]) == (
            len(model.articles),
            sum(len(c) for c in model.chunks.values()),
        )
        for article_id in sorted(model.gone | model.orphans):
            assert client.get(f"/articles/{article_id}").status_code == 404, article_id
        for article_id in sorted(model.articles)[:3] + sorted(model.aliases)[:2]:
            response = client.get(f"/articles/{article_id}")
            assert response.status_code == 200, article_id
            kept = model.articles[model.resolve(article_id)]
            assert (response.json()["id"], response.json()["text"]) == (kept.id, kept.text)
        query = rng.choice(QUERIES)
        filters = rng.choice(self.filters(rng)[1:])
        params = {"q": query, "k": K, "collapse": "false"}
        body_filters = {}
        for name in (
            "category",
            "source",
            "published_from",
            "published_to",
            "event_from",
            "event_to",
        ):
            value = getattr(filters, name)
            if value is not None:
                params[name] = value.isoformat() if isinstance(value, date) else value
                body_filters[name] = params[name]
        matching = {a for a, art in model.articles.items() if model.matches(art, filters)}
        response = client.get("/search", params=params)
        assert response.status_code == 200, response.text
        for p in response.json()["passages"]:
            assert p["article_id"] in matching, (params, p["article_id"])
            text = model.articles[p["article_id"]].text
            assert p["text"] == text[p["char_start"] : p["char_end"]], params
        response = client.post(
            "/ask",
            json={"question": query, "k": K, "filters": body_filters or None, "collapse": False},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        for c in body["citations"]:
            assert c["article_id"] in matching, (query, body_filters, c["article_id"])
            text = model.articles[c["article_id"]].text
            assert c["quote"] == text[c["char_start"] : c["char_end"]], (query, c)
        quoted = {c["n"]: c for c in body["citations"]}
        for s in body["short_answers"]:  # the reader's spans, inside their citation's quote
            text = model.articles[s["article_id"]].text
            assert s["text"] == text[s["char_start"] : s["char_end"]], (query, s)
            c = quoted[s["n"]]
            assert c["char_start"] <= s["char_start"] < s["char_end"] <= c["char_end"], (s, c)

    def check_milvus(self, store: IndexStore) -> None:
        from indexer.dense.milvus import open_collection

        s = self.settings
        collection = open_collection(
            s.milvus_uri, store.manifest.milvus_collection, store.manifest.dimension, "FLAT", 30.0
        )
        expected = self.model.keys()
        assert collection.count() == len(expected)
        assert np.array_equal(collection.ids(), expected), "Milvus holds other chunks"
        assert collection.article_ids() == {a for a in self.model.articles if self.model.chunks[a]}


# -- the profiles ---------------------------------------------------------------------------------


def run_profile(name: str, run: Run, sequences: int, steps: int) -> None:
    """Run ``sequences`` sequences of up to ``steps`` steps (NEWSQA_MODEL_SEQUENCES and
    NEWSQA_MODEL_STEPS override both, for a longer soak or a quick look)."""
    sequences = int(os.environ.get("NEWSQA_MODEL_SEQUENCES", sequences))
    steps = int(os.environ.get("NEWSQA_MODEL_STEPS", steps))
    machine = type(f"IndexMachine_{name}", (IndexMachine,), {"run": run})
    started = time.perf_counter()
    try:
        run_state_machine_as_test(
            machine,
            settings=hypothesis.settings(
                max_examples=sequences,
                stateful_step_count=steps,
                derandomize=True,
                database=None,
                deadline=None,
                print_blob=False,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        print(
            f"[model] {name}: {run.sequences} sequences, {run.steps} steps in "
            f"{time.perf_counter() - started:.0f} s"
        )


class SharedWriteWorker:
    """The app's write worker (``service.write_worker``), one process for all of a profile's
    apps: each app would start its own and load the model again, seconds per sequence."""

    worker = None

    def __init__(self, settings) -> None:  # type: ignore[no-untyped-def]
        from service.write_worker import WriteWorker

        if SharedWriteWorker.worker is None:
            SharedWriteWorker.worker = WriteWorker(settings)

    def write(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return SharedWriteWorker.worker.write(*args, **kwargs)

    def close(self) -> None:
        """Kept for the next app; ``model_run`` closes it."""


@pytest.fixture
def model_run(tmp_path, embedder, settings, monkeypatch) -> Iterator[Run]:
    """The session's model and settings, with the environment's vector store (``make
    test-scale`` sets NEWSQA_VECTOR_STORE=milvus, and conftest points it at its server)."""
    from newsqa.settings import get_settings
    from service import live_index

    env = get_settings()
    update = {"vector_store": env.vector_store, "milvus_uri": env.milvus_uri}
    monkeypatch.setattr(live_index, "WriteWorker", SharedWriteWorker, raising=False)
    yield Run(MemoEmbedder(embedder), settings.model_copy(update=update), tmp_path)
    if SharedWriteWorker.worker is not None:
        SharedWriteWorker.worker.close()
        SharedWriteWorker.worker = None


def test_index_agrees_with_its_model(model_run: Run) -> None:
    if model_run.settings.vector_store == "milvus":
        pytest.skip("on Milvus (make test-scale) the milvus profile runs instead")
    run_profile("default", model_run, sequences=10, steps=10)


@pytest.mark.slow
def test_index_agrees_with_its_model_long(model_run: Run) -> None:
    run_profile("slow", model_run, sequences=20, steps=15)


@pytest.mark.milvus
def test_index_on_milvus_agrees_with_its_model(model_run: Run, milvus) -> None:
    model_run.settings = model_run.settings.model_copy(
        update={"vector_store": "milvus", "milvus_uri": milvus.uri}
    )
    run_profile("milvus", model_run, sequences=5, steps=10)


# Bugs this test found besides issue 16's, as their shortest sequences (fixed since):
FOUND = {
    # A duplicate id deleted (or whose article was deleted) was still found in its segment's
    # aliases by ``IndexWriter.delete``: DELETE answered 200 again where GET answered 404.
    "REDELETE_DUPLICATES": [
        lambda m: m.start([Spec(0), Spec(1)]),
        lambda m: m.duplicate(0, False, Spec(2), "index"),
        lambda m: m.delete("duplicate", 0, "writer"),
        lambda m: m.delete("gone", 0, "writer"),  # the writer says it deleted it again
    ],
    # Two new copies of a live article in one batch: the second became a duplicate of the
    # first, itself only a duplicate: its id resolved to nothing.
    "BATCH_COPIES_OF_LIVE": [
        lambda m: m.start([Spec(0), Spec(1)]),
        lambda m: m.add([Spec(0), Spec(0)], "index"),  # the second copy resolves to nothing
    ],
    # ``--prune`` over a file whose new article has the words of one the same run removes: the
    # new one became a duplicate of the removed one, so its text was nowhere.
    "PRUNE_NEW_COPY_OF_REMOVED": [
        lambda m: m.start([Spec(0), Spec(1)]),
        lambda m: m.prune([False, True], Spec(0)),  # keeps nq-002, adds a copy of nq-001
    ],
}


@pytest.mark.parametrize("bug", list(FOUND))
def test_found_bug_stays_fixed(model_run: Run, bug: str) -> None:
    machine = type("IndexMachine_found", (IndexMachine,), {"run": model_run})()
    try:
        for step in FOUND[bug]:
            step(machine)
            machine.agrees_with_the_model()
    finally:
        machine.teardown()
