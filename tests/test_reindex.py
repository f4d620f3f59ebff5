"""Incremental indexing, the writer lock, live swap and the HTTP write endpoints."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import CORPUS_DIR, running_server, write_jsonl
from filelock import FileLock

from indexer.analyzer import analyze
from indexer.dedup import dedupe
from indexer.documents import Article
from indexer.pipeline import build_index
from indexer.sources import read_articles
from indexer.store import MAX_SEGMENTS, IndexStore, IndexWriter
from newsqa.errors import IndexBusyError, UnreadSourceError
from service.retrieval import HybridRetriever

RECORDS = [json.loads(line) for line in (CORPUS_DIR / "articles.jsonl").open()]
QUERIES = [
    "which Palembang programs won 2020 awards",
    "harga cabai naik",
    "jembatan Ampera",
    "banjir di Palembang",
    "tim sepak bola menang",
]
TOKEN = "test-admin-token"


def ranking(store: IndexStore, embedder, query: str) -> list[tuple[str, float]]:
    hits = HybridRetriever(store, embedder).retrieve(query, k=5)
    return [(h.article_id, round(h.score, 4)) for h in hits]


def test_reindex_embeds_only_what_changed_and_prunes(tmp_path, embedder, dense):
    index_dir = tmp_path / "index"
    first = write_jsonl(tmp_path / "a.jsonl", RECORDS[:8])
    report = build_index([first], index_dir, embedder, dense=dense)
    assert (report.added, report.unchanged, report.articles) == (8, 0, 8)

    again = build_index([first], index_dir, embedder, dense=dense)
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 8, 0)

    changed = [dict(r) for r in RECORDS[:8]]
    changed[2]["text"] += " Kalimat tambahan tentang festival layang-layang di tepi sungai."
    later = write_jsonl(tmp_path / "b.jsonl", changed[:7] + RECORDS[8:10])
    update = build_index([later], index_dir, embedder, prune=True, dense=dense)
    assert (update.added, update.updated, update.unchanged, update.removed) == (2, 1, 6, 1)
    assert 0 < update.chunks < report.chunks  # only the changed and new articles' chunks

    store = IndexStore.open(index_dir, dense=dense)
    assert store.manifest.articles == 9
    assert store.article(RECORDS[7]["id"]) is None  # pruned
    assert "layang-layang" in store.article(changed[2]["id"]).text
    found = HybridRetriever(store, embedder).retrieve("festival layang-layang tepi sungai", k=3)
    assert found[0].article_id == changed[2]["id"]
    assert all(
        h.article_id != RECORDS[7]["id"]
        for q in QUERIES
        for h in HybridRetriever(store, embedder).retrieve(q, k=10)
    )


def test_prune_keeps_an_article_whose_new_record_cannot_be_read(tmp_path, embedder, dense):
    """A source that still names an article but cannot give its text (a field broken by the
    export, a page saved empty) is reported as skipped; the article stays as indexed, where
    a prune used to delete it."""
    index_dir = tmp_path / "index"
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "page-1.txt").write_text("Judul\nRabu, 25 November 2020\nIsi berita banjir.\n")
    first = write_jsonl(tmp_path / "a.jsonl", RECORDS[:3])
    build_index([first, pages], index_dir, embedder, dense=dense)
    broken = [RECORDS[0], {**RECORDS[1], "text": "   "}, {"id": RECORDS[2]["id"], "text": 7}]
    (pages / "page-1.txt").write_text("")  # saved empty, as by a half-finished copy
    source = write_jsonl(tmp_path / "b.jsonl", broken)
    report = build_index([source, pages], index_dir, embedder, prune=True, dense=dense)
    assert report.removed == 0 and report.articles == 4
    assert [(s.line, s.article_id) for s in report.skipped] == [
        (2, RECORDS[1]["id"]),
        (3, RECORDS[2]["id"]),
        (None, "page-1"),
    ]
    store = IndexStore.open(index_dir, dense=dense)
    assert store.article(RECORDS[1]["id"]).text == RECORDS[1]["text"]  # as it was indexed
    assert "banjir" in store.article("page-1").text
    store.close()
    # a record whose id is no valid one names no article: the others go
    nameless = [RECORDS[0], {"id": "no spaces, please", "text": ""}]
    source = write_jsonl(tmp_path / "c.jsonl", nameless)
    report = build_index([source], index_dir, embedder, prune=True, dense=dense)
    assert [s.article_id for s in report.skipped] == [None]
    assert report.removed == 3 and report.articles == 1


def test_prune_refuses_while_a_source_cannot_be_read(tmp_path, embedder, dense):
    """``newsqa index A B --prune`` with B mistyped, gone or an empty mount point removed
    every article that came from B, and succeeded: now nothing is written, and the error
    names B."""
    index_dir = tmp_path / "index"
    first = write_jsonl(tmp_path / "a.jsonl", RECORDS[:2])
    share = tmp_path / "share"
    share.mkdir()
    write_jsonl(share / "b.jsonl", RECORDS[2:5])
    build_index([first, share], index_dir, embedder, dense=dense)
    before = (index_dir / "CURRENT").read_text()
    (share / "b.jsonl").rename(tmp_path / "b.jsonl")  # the share came unmounted: empty
    for sources in ([first, share], [first, tmp_path / "shaer"]):
        with pytest.raises(UnreadSourceError, match=str(sources[1])):
            build_index(sources, index_dir, embedder, prune=True, dense=dense)
        assert (index_dir / "CURRENT").read_text() == before
    # without --prune the readable sources are indexed and nothing is removed
    report = build_index([first, share], index_dir, embedder, dense=dense)
    assert (report.removed, report.articles) == (0, 5)
    # once the share is back, a prune runs
    (tmp_path / "b.jsonl").rename(share / "b.jsonl")
    report = build_index([share], index_dir, embedder, prune=True, dense=dense)
    assert (report.removed, report.articles) == (2, 3)


def test_prune_keeps_a_page_that_cannot_be_opened_and_goes_on(tmp_path, embedder, dense):
    """A page in a folder that cannot be opened (a dangling link, another user's file) names
    its article by its file name: a prune keeps that article and indexes and removes the rest,
    where it refused the whole run, saying it would remove the page's every article."""
    index_dir, folder = tmp_path / "index", tmp_path / "inbox"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", RECORDS[:3])
    (folder / "page-1.txt").write_text("Banjir di Kertapati\n\nBanjir merendam 350 rumah warga.")
    build_index([folder], index_dir, embedder, dense=dense)
    (folder / "page-1.txt").unlink()
    (folder / "page-1.txt").symlink_to(tmp_path / "gone.txt")
    write_jsonl(folder / "a.jsonl", RECORDS[1:4])
    report = build_index([folder], index_dir, embedder, prune=True, dense=dense)
    assert [(s.article_id, s.reason) for s in report.skipped] == [
        ("page-1", "cannot read: No such file or directory")
    ]
    assert (report.added, report.removed) == (1, 1)
    store = IndexStore.open(index_dir, dense=dense)
    assert set(store.article_ids()) == {"page-1"} | {r["id"] for r in RECORDS[1:4]}
    store.close()


def test_many_small_updates_rank_exactly_like_one_full_build(tmp_path, embedder, dense):
    """Segments, tombstones and merges are invisible: BM25 statistics are corpus-wide."""
    full_dir, step_dir = tmp_path / "full", tmp_path / "steps"
    records = RECORDS[:20]
    build_index([write_jsonl(tmp_path / "all.jsonl", records)], full_dir, embedder, dense=dense)
    for i in range(0, 20, 2):  # ten commits: enough to trigger at least one merge
        source = write_jsonl(tmp_path / f"s{i}.jsonl", records[i : i + 2])
        build_index([source], step_dir, embedder, dense=dense)
    # a delete and a re-add leave tombstones behind before the comparison
    with IndexWriter(step_dir, embedder.name, embedder.dimension, dense=dense) as writer:
        assert writer.delete([records[5]["id"]]) == [records[5]["id"]]
        writer.commit()
    build_index(
        [write_jsonl(tmp_path / "back.jsonl", [records[5]])], step_dir, embedder, dense=dense
    )

    full, steps = IndexStore.open(full_dir, dense=dense), IndexStore.open(step_dir, dense=dense)
    assert len(steps.manifest.segments) <= MAX_SEGMENTS
    assert (steps.manifest.articles, steps.manifest.chunks) == (
        full.manifest.articles,
        full.manifest.chunks,
    )
    for query in QUERIES:
        a, b = ranking(full, embedder, query), ranking(steps, embedder, query)
        assert [x[0] for x in a] == [x[0] for x in b], query
        assert np.allclose([x[1] for x in a], [x[1] for x in b], atol=1e-3), query
    # Scoring chosen rows (the retriever's feedback step) agrees with scoring every chunk,
    # across segments and tombstones.
    rows = np.arange(len(steps.live))  # dead rows included: both give them 0
    for query in QUERIES:
        terms = analyze(query)
        assert np.allclose(steps.bm25.scores_of(rows, terms), steps.bm25.scores(terms)), query
        assert steps.bm25.rarest(terms, 3) == full.bm25.rarest(terms, 3), query
        # each segment's MaxScore top, merged, is the top of all scores (live rows only)
        every = steps.bm25.scores(terms)
        allowed = np.arange(len(steps.live)) % 2 == 0
        for n, mask in [(1, None), (4, None), (4, allowed)]:
            top = steps.bm25.top(terms, n, mask)
            chosen = every if mask is None else np.where(mask, every, 0)
            best = np.sort(chosen[chosen > 0])[::-1][:n]
            assert np.allclose(np.sort(every[top])[::-1], best), query
            assert steps.live[top].all() and (mask is None or mask[top].all())


def test_second_writer_fails_with_a_clear_message(tmp_path, embedder, settings, dense):
    index_dir = tmp_path / "index"
    source = write_jsonl(tmp_path / "a.jsonl", RECORDS[:2])
    with IndexWriter(index_dir, embedder.name, embedder.dimension):
        with pytest.raises(IndexBusyError, match="being written by another process"):
            build_index([source], index_dir, embedder)
        result = subprocess.run(
            [sys.executable, "-m", "newsqa", "index", str(source), "--index-dir", str(index_dir)],
            capture_output=True,
            text=True,
            env={**os.environ, "NEWSQA_CACHE_DIR": str(settings.cache_dir)},
            timeout=300,
        )
        assert result.returncode == 1
        assert "being written by another process" in result.stdout + result.stderr
    assert build_index([source], index_dir, embedder, dense=dense).added == 2  # lock released


def test_watch_indexes_files_as_they_arrive(tmp_path, settings):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_jsonl(inbox / "first.jsonl", RECORDS[:2])
    index_dir = tmp_path / "index"
    with _watching(inbox, index_dir, settings) as watch:
        watch.until(lambda: _articles(index_dir) == 2, "initial index")
        write_jsonl(inbox / "second.jsonl", RECORDS[2:5])
        watch.until(lambda: _articles(index_dir) == 5, "the new file")
    assert "watching" in watch.output


def test_watch_prune_removes_what_leaves_the_folder(tmp_path, settings):
    """A newsroom retracts an article by deleting its file, or a line of a JSONL file: with
    --prune the watcher removes it from the index; an emptied folder removes nothing."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_jsonl(inbox / "first.jsonl", RECORDS[:2])
    write_jsonl(inbox / "second.jsonl", RECORDS[2:5])
    index_dir = tmp_path / "index"
    with _watching(inbox, index_dir, settings, "--prune") as watch:
        watch.until(lambda: _ids(index_dir) == {r["id"] for r in RECORDS[:5]}, "the index")
        (inbox / "second.jsonl").unlink()
        watch.until(lambda: _ids(index_dir) == {r["id"] for r in RECORDS[:2]}, "the delete")
        write_jsonl(inbox / "first.jsonl", RECORDS[1:2])  # one line taken out of a file
        watch.until(lambda: _ids(index_dir) == {RECORDS[1]["id"]}, "the removed line")
        generation = IndexStore.open(index_dir, eager=False).manifest.generation
        (inbox / "first.jsonl").unlink()
        time.sleep(5)  # debounce, then a run that finds nothing to index
    assert _ids(index_dir) == {RECORDS[1]["id"]}, watch.output
    assert IndexStore.open(index_dir, eager=False).manifest.generation == generation
    assert "nothing to index" in watch.output


@pytest.mark.parametrize("prune", [False, True])
def test_watch_indexes_a_folder_moved_into_the_folder(tmp_path, settings, prune):
    """An export lands as a whole folder renamed into the watched one (the watcher sees the
    folder alone, not the files in it): its articles are indexed, and with --prune a folder
    moved out again takes its articles with it."""
    inbox, staging = tmp_path / "inbox", tmp_path / "staging"
    (staging / "batch").mkdir(parents=True)
    inbox.mkdir()
    write_jsonl(inbox / "first.jsonl", RECORDS[:2])
    write_jsonl(staging / "batch" / "second.jsonl", RECORDS[2:5])
    index_dir = tmp_path / "index"
    first, all_five = {r["id"] for r in RECORDS[:2]}, {r["id"] for r in RECORDS[:5]}
    with _watching(inbox, index_dir, settings, *(["--prune"] if prune else [])) as watch:
        watch.until(lambda: _ids(index_dir) == first, "initial index")
        (staging / "batch").rename(inbox / "batch")
        watch.until(lambda: _ids(index_dir) == all_five, "the folder moved in")
        if prune:
            (inbox / "batch").rename(staging / "batch")
            watch.until(lambda: _ids(index_dir) == first, "the folder moved out")


def test_watch_keeps_watching_a_folder_that_comes_back(tmp_path, settings):
    """A folder deleted and made again (a share unmounted and mounted again) takes its file
    watch with it: the watcher says so, waits, and watches the new folder, indexing what
    arrived meanwhile and what arrives later."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_jsonl(inbox / "first.jsonl", RECORDS[:2])
    index_dir = tmp_path / "index"
    with _watching(inbox, index_dir, settings) as watch:
        watch.until(lambda: _articles(index_dir) == 2, "initial index")
        # moved away and kept, not deleted: a deleted folder's inode can be reused at once by
        # the new one, and a watcher that did not look during the gap (a loaded CI machine)
        # saw the same folder back and said nothing
        inbox.rename(tmp_path / "inbox.old")
        time.sleep(3)
        inbox.mkdir()
        write_jsonl(inbox / "second.jsonl", RECORDS[2:4])
        watch.until(lambda: _articles(index_dir) == 4, "what arrived while it was gone")
        write_jsonl(inbox / "third.jsonl", RECORDS[4:6])
        watch.until(lambda: _articles(index_dir) == 6, "what arrived after")
    assert "is gone: waiting for it to come back" in watch.output


def test_watch_starts_no_new_index_where_its_index_vanished(tmp_path, settings):
    """The index directory moved away (or its volume unmounted) under the watcher: the next
    file became a one-article index in its place, which a server then served; now the run
    is refused, names the directory, and the watcher goes on."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_jsonl(inbox / "first.jsonl", RECORDS[:2])
    index_dir = tmp_path / "index"
    with _watching(inbox, index_dir, settings) as watch:
        watch.until(lambda: _articles(index_dir) == 2, "initial index")
        index_dir.rename(tmp_path / "moved")
        write_jsonl(inbox / "second.jsonl", RECORDS[2:3])
        time.sleep(5)  # debounce, then the refused run
        assert not (index_dir / "CURRENT").exists()
        (tmp_path / "moved").rename(index_dir)
        write_jsonl(inbox / "third.jsonl", RECORDS[3:4])
        watch.until(lambda: _articles(index_dir) == 3, "the index back")
    assert "no committed index in" in " ".join(watch.output.split())  # as the console wraps it


def test_watch_indexes_what_arrived_while_another_writer_held_the_lock(tmp_path, settings):
    """A file that lands while another writer (an HTTP bulk write, minutes long) holds the
    lock past --wait was left out until it changed again; now the watcher says it will try
    again, and does, once the lock is free."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_jsonl(inbox / "first.jsonl", RECORDS[:2])
    index_dir = tmp_path / "index"
    with _watching(inbox, index_dir, settings, "--wait", "0.5") as watch:
        watch.until(lambda: _articles(index_dir) == 2, "initial index")
        with FileLock(str(index_dir / ".lock")):
            write_jsonl(inbox / "second.jsonl", RECORDS[2:4])
            time.sleep(8)  # debounce, a refused run and a refused try again
            assert _articles(index_dir) == 2
        watch.until(lambda: _articles(index_dir) == 4, "the file that waited")
    joined = " ".join(watch.output.split())  # as the console wraps it
    assert joined.count("(the watcher will, with these files)") == 1


def test_watch_passes_over_hidden_files_and_folders(tmp_path, settings):
    """An editor's lock file (``.#page.txt``) beside a page being edited was reported as a
    skipped record with an invalid id at each save, and a file put in a hidden folder (a
    trash folder) was indexed; the watcher passes over them, as a read of the folder does."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_jsonl(inbox / "first.jsonl", RECORDS[:2])
    index_dir = tmp_path / "index"
    with _watching(inbox, index_dir, settings) as watch:
        watch.until(lambda: _articles(index_dir) == 2, "initial index")
        (inbox / ".#halaman.txt").write_text("Judul\nIsi halaman.\n", encoding="utf-8")
        (inbox / ".Trash-1000").mkdir()
        write_jsonl(inbox / ".Trash-1000" / "old.jsonl", RECORDS[2:3])
        time.sleep(1)
        write_jsonl(inbox / "second.jsonl", RECORDS[3:4])
        watch.until(lambda: _articles(index_dir) == 3, "the new file")
        time.sleep(2)  # anything more it would do
    assert _ids(index_dir) == {r["id"] for r in [*RECORDS[:2], RECORDS[3]]}
    assert "invalid id" not in watch.output, watch.output


def test_watch_keeps_an_id_in_two_files_where_a_folder_read_keeps_it(tmp_path, settings):
    """One id in two files: ``newsqa index FOLDER`` keeps the first file's in path order, but
    the watcher read only the file that changed, so the one changed last won: the stored
    version flipped with the command run last. Now the watcher keeps it where a read of the
    folder does, and reports the other as a read of the folder reports it."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    same_id = RECORDS[0]["id"]
    write_jsonl(inbox / "b.jsonl", [RECORDS[0]])
    write_jsonl(inbox / "c.jsonl", [{**RECORDS[1], "id": same_id}])
    index_dir = tmp_path / "index"

    def origin() -> str:
        article = IndexStore.open(index_dir, eager=False).article(same_id)
        return Path(article.origin).name if article else ""

    with _watching(inbox, index_dir, settings) as watch:
        watch.until(lambda: _articles(index_dir) == 1, "initial index")
        assert origin() == "b.jsonl:1"
        write_jsonl(inbox / "c.jsonl", [{**RECORDS[3], "id": same_id}, RECORDS[4]])
        watch.until(lambda: _articles(index_dir) == 2, "the changed file")
        assert origin() == "b.jsonl:1"
        write_jsonl(inbox / "a.jsonl", [{**RECORDS[5], "id": same_id}])  # first in path order
        watch.until(lambda: origin() == "a.jsonl:1", "the first file's version")
    assert "ids must be unique" in " ".join(watch.output.split())


class Watcher:
    """A running `newsqa watch`: its output as it comes, and waits paced by the watcher itself.

    Its first index (starting Python, loading the model, creating a Milvus collection) takes
    about 10 s on an idle machine and was given 120 s, which a loaded 2-core CI runner, with a
    Milvus server starting beside it, overran. So ``until`` first waits for the line the
    watcher prints when that run is over, however long it takes (failing at once, with the
    output, if the watcher exits), and gives each later wait a bound scaled to it."""

    FIRST_RUN_BOUND = 900.0
    """Seconds for the first run: only a watcher hung for good should ever reach it."""
    FIRST_RUN_DONE = "(Ctrl-C to stop)"

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.started = time.monotonic()
        self.first_run_s: float | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def _check(self, deadline: float, what: str) -> None:
        assert self.proc.poll() is None, (
            f"watch exited ({self.proc.returncode}) before {what}:\n{self.output}"
        )
        assert time.monotonic() < deadline, (
            f"timed out after {deadline - self.started:.0f} s of watching, waiting for "
            f"{what}; its output:\n{self.output}"
        )

    def first_run(self) -> float:
        """Seconds the watcher's first index took (waited for)."""
        if self.first_run_s is None:
            deadline = self.started + self.FIRST_RUN_BOUND
            # the console wraps a long path, and may break the line inside this text
            while self.FIRST_RUN_DONE not in " ".join(self.output.split()):
                self._check(deadline, "its first index")
                time.sleep(0.1)
            self.first_run_s = time.monotonic() - self.started
        return self.first_run_s

    def until(self, condition, what: str, seconds: float = 60.0) -> None:  # type: ignore[no-untyped-def]
        """Wait until ``condition()`` holds, at most ``seconds`` or four first runs (a
        later run embeds, and writes to Milvus, as the first one did)."""
        bound = max(seconds, 4 * self.first_run())
        deadline = time.monotonic() + bound
        while not condition():
            self._check(deadline, what)
            time.sleep(0.2)


@contextmanager
def _watching(inbox: Path, index_dir: Path, settings, *options: str) -> Iterator[Watcher]:  # type: ignore[no-untyped-def]
    """`newsqa watch` over ``inbox`` while the block runs (stopped with SIGINT after it)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsqa", "watch", str(inbox), "--index-dir", str(index_dir)]
        + list(options),
        env={
            **os.environ,
            "NEWSQA_CACHE_DIR": str(settings.cache_dir),
            "PYTHONUNBUFFERED": "1",  # each line as it is printed: the waits read them
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # SIGINT stops it, as Ctrl-C would, even when this test runs in a background job
        # (which ignores SIGINT, and passes that on): see tests/milvus_server.py.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    watcher = Watcher(proc)
    try:
        yield watcher
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            watcher._reader.join(timeout=10)


def _ids(index_dir: Path) -> set[str]:
    try:
        return set(IndexStore.open(index_dir, eager=False).article_ids())
    except Exception:
        return set()


def _articles(index_dir: Path) -> int:
    try:
        return IndexStore.open(index_dir, eager=False).manifest.articles
    except Exception:
        return -1


def _wait_for(condition, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def writable_server(tmp_path_factory, corpus_index, settings):
    index_dir = tmp_path_factory.mktemp("writable") / "index"
    shutil.copytree(corpus_index, index_dir)
    with running_server(
        index_dir,
        settings.cache_dir,
        NEWSQA_ADMIN_TOKEN=TOKEN,
        NEWSQA_RATE_LIMIT_PER_MINUTE="0",
        NEWSQA_WRITE_LOCK_TIMEOUT="1",
    ) as url:
        yield url, index_dir


AUTH = {"Authorization": f"Bearer {TOKEN}"}
NEW = {
    "id": "test-kite-001",
    "title": "Festival layang-layang raksasa digelar di Pantai Parangtritis",
    "url": "https://contoh-berita.id/festival-layang-layang",
    "published": "2024-07-14T09:00:00+07:00",
    "category": "budaya",
    "source": "Tes",
    "text": "Ratusan layang-layang raksasa memenuhi langit Pantai Parangtritis pada Minggu pagi. "
    "Festival tahunan ini diikuti 40 kelompok dari lima provinsi. Layang-layang terbesar "
    "berbentuk naga sepanjang 120 meter dan dibuat oleh kelompok asal Bantul.",
}


def event_days(body: dict) -> list[tuple[str, str, str]]:
    """The events of an article or passage, each checked against the text it quotes."""
    offset = body.get("char_start", 0)
    for e in body["events"]:
        assert body["text"][e["char_start"] - offset : e["char_end"] - offset] == e["text"]
    return [(e["text"], e["start"], e["end"]) for e in body["events"]]


def test_http_writes_need_the_admin_token(writable_server, live_server):
    url, _ = writable_server
    assert httpx.post(f"{url}/articles", json=NEW).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.delete(f"{url}/articles/x", headers=wrong).status_code == 401
    # a server without a token refuses every write
    response = httpx.post(f"{live_server}/articles", json=NEW, headers=AUTH)
    assert response.status_code == 403
    assert "NEWSQA_ADMIN_TOKEN" in response.json()["detail"]


def test_http_add_update_delete_are_served_at_once(writable_server):
    url, _ = writable_server
    question = {"question": "berapa panjang layang-layang naga di Parangtritis?"}
    # The first write starts the write worker process (model load; under Milvus, the mirror's
    # first flush too): minutes on a loaded 2-core machine. Correctness is checked, not speed.
    response = httpx.post(f"{url}/articles", json=NEW, headers=AUTH, timeout=300)
    assert response.status_code == 201, response.text
    assert response.json()["added"] == 1
    answer = httpx.post(f"{url}/ask", json=question, timeout=60).json()
    assert answer["citations"][0]["article_id"] == NEW["id"]
    assert "120 meter" in answer["answer"]

    assert event_days(httpx.get(f"{url}/articles/{NEW['id']}").json()) == [
        ("Minggu", "2024-07-14", "2024-07-14")  # "pada Minggu pagi", a Sunday article
    ]
    assert kite_timeline(url) == [("Minggu", "2024-07-14")]
    assert httpx.get(f"{url}/read/{NEW['id']}").status_code == 200  # the citation link

    text = NEW["text"].replace("120 meter", "150 meter").replace("pada Minggu", "sejak kemarin")
    changed = {**NEW, "text": text}
    response = httpx.put(f"{url}/articles/{NEW['id']}", json=changed, headers=AUTH, timeout=300)
    assert response.status_code == 200 and response.json()["updated"] == 1
    article = httpx.get(f"{url}/articles/{NEW['id']}").json()
    assert "150 meter" in article["text"]
    assert event_days(article) == [("kemarin", "2024-07-13", "2024-07-13")]
    answer = httpx.post(f"{url}/ask", json=question, timeout=60).json()
    assert "150 meter" in answer["answer"] and "120 meter" not in answer["answer"]
    kite = [p for p in answer["passages"] if p["article_id"] == NEW["id"]]
    assert kite and all(event_days(p) == event_days(article) for p in kite)
    assert kite_timeline(url) == [("kemarin", "2024-07-13")]  # the new text's, cited in it

    assert httpx.delete(f"{url}/articles/{NEW['id']}", headers=AUTH).status_code == 200
    assert httpx.get(f"{url}/articles/{NEW['id']}").status_code == 404
    answer = httpx.post(f"{url}/ask", json=question, timeout=60).json()
    assert all(c["article_id"] != NEW["id"] for c in answer["citations"])
    assert all(p["article_id"] != NEW["id"] for p in answer["passages"])
    assert kite_timeline(url) == []
    assert httpx.get(f"{url}/read/{NEW['id']}").status_code == 404
    assert httpx.delete(f"{url}/articles/{NEW['id']}", headers=AUTH).status_code == 404


def kite_timeline(url: str) -> list[tuple[str, str]]:
    """The kite article's timeline entries (expression, first day), each checked to quote
    the article's current text at its offsets."""
    # the first /timeline of a generation reads its events and stories: seconds on a loaded
    # machine, past httpx's default 5 s (a parallel run beside other jobs timed out here)
    events = httpx.get(
        f"{url}/timeline", params={"q": "layang-layang Parangtritis"}, timeout=60
    ).json()
    found = []
    for e in events["events"]:
        if e["article_id"] == NEW["id"]:
            text = httpx.get(f"{url}/articles/{NEW['id']}").json()["text"]
            assert text[e["char_start"] : e["char_end"]] == e["quote"]
            assert text[e["expression_start"] : e["expression_end"]] == e["expression"]
            found.append((e["expression"], e["start"]))
    return found


def test_http_write_errors_name_the_problem(writable_server):
    url, _ = writable_server
    blank = httpx.post(f"{url}/articles", json={**NEW, "text": "   "}, headers=AUTH)
    assert blank.status_code == 422 and "text" in blank.text
    batch = httpx.post(f"{url}/articles", json=[NEW, {"id": "x"}], headers=AUTH)
    assert batch.status_code == 422 and "text" in batch.text
    mismatch = httpx.put(f"{url}/articles/other", json=NEW, headers=AUTH)
    assert mismatch.status_code == 422 and "differs from the path" in mismatch.text


def test_service_swaps_to_a_cli_reindex(writable_server, embedder, dense, tmp_path):
    url, index_dir = writable_server
    before = httpx.get(f"{url}/ready").json()["articles"]
    extra = {**NEW, "id": "test-kite-cli", "url": None, "text": NEW["text"] + " Dari CLI."}
    build_index([write_jsonl(tmp_path / "cli.jsonl", [extra])], index_dir, embedder, dense=dense)
    _wait_for(lambda: httpx.get(f"{url}/ready").json()["articles"] == before + 1, 2, "swap")
    assert httpx.get(f"{url}/articles/test-kite-cli").status_code == 200


def test_http_write_waits_for_the_cli_writer_then_409(writable_server, embedder):
    url, index_dir = writable_server
    with IndexWriter(index_dir, embedder.name, embedder.dimension):  # a CLI run holds the lock
        response = httpx.post(f"{url}/articles", json=NEW, headers=AUTH, timeout=60)
    assert response.status_code == 409
    assert "being written by another process" in response.json()["detail"]


def test_http_write_behind_a_bulk_job_gets_409_after_the_lock_timeout(writable_server):
    """A write sent while this server's bulk job ran queued behind the whole job (30 s and
    more), past NEWSQA_WRITE_LOCK_TIMEOUT (1 s here); the job itself is written whole."""
    url, _ = writable_server
    batch = [
        {**NEW, "id": f"behind-{i}", "url": None, "text": f"{NEW['text']} Peserta ke-{i} pulang."}
        for i in range(150)
    ]
    job = httpx.post(f"{url}/articles/bulk", json=batch, headers=AUTH, timeout=60).json()
    deadline = time.monotonic() + 60
    while (state := httpx.get(f"{url}/jobs/{job['id']}", headers=AUTH).json()["state"]) in (
        "queued",
    ) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert state == "running", state
    started = time.monotonic()
    response = httpx.put(
        f"{url}/articles/behind-x", json={**NEW, "id": "behind-x"}, headers=AUTH, timeout=120
    )
    waited = time.monotonic() - started
    assert response.status_code == 409, response.text
    assert "NEWSQA_WRITE_LOCK_TIMEOUT" in response.json()["detail"]
    assert waited < 10, waited
    while httpx.get(f"{url}/jobs/{job['id']}", headers=AUTH).json()["state"] == "running":
        time.sleep(0.3)
    assert httpx.get(f"{url}/jobs/{job['id']}", headers=AUTH).json()["result"]["added"] == 150
    httpx.post(
        f"{url}/articles/delete", json={"ids": [r["id"] for r in batch]}, headers=AUTH, timeout=120
    )


def test_a_bulk_job_that_fails_reports_every_record(writable_server, embedder):
    """A failed job's items were empty: each record now says it was not written, and why."""
    url, index_dir = writable_server
    records = [{**NEW, "id": "fails-1"}, {"id": "fails-2"}, {**NEW, "id": "fails-3", "url": None}]
    with IndexWriter(index_dir, embedder.name, embedder.dimension):  # a CLI run holds the lock
        response = httpx.post(f"{url}/articles/bulk", json=records, headers=AUTH, timeout=60)
        assert response.status_code == 202, response.text
        deadline = time.monotonic() + 60
        while (job := httpx.get(f"{url}/jobs/{response.json()['id']}", headers=AUTH).json())[
            "state"
        ] not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.3)
    assert job["state"] == "failed" and "another process" in job["error"], job
    assert [(i["id"], i["result"]) for i in job["items"]] == [
        ("fails-1", "failed"),
        ("fails-2", "rejected"),
        ("fails-3", "failed"),
    ]
    assert job["items"][0]["reason"] == job["error"]
    assert httpx.get(f"{url}/articles/fails-1").status_code == 404


def test_http_write_that_changes_nothing_commits_no_generation(writable_server):
    url, _ = writable_server
    same = {**NEW, "id": "test-kite-same", "url": None, "text": NEW["text"] + " Sama."}
    first = httpx.post(f"{url}/articles", json=same, headers=AUTH, timeout=120)
    assert first.status_code == 201, first.text
    again = httpx.put(f"{url}/articles/{same['id']}", json=same, headers=AUTH, timeout=120)
    assert again.status_code == 200, again.text
    assert again.json()["unchanged"] == 1
    # POST answers as PUT: 201 only when it added an article
    posted = httpx.post(f"{url}/articles", json=[same], headers=AUTH, timeout=120)
    assert posted.status_code == 200 and posted.json()["unchanged"] == 1, posted.text
    assert again.json()["generation"] == first.json()["generation"]
    assert httpx.get(f"{url}/ready").json()["generation"] == first.json()["generation"]


def test_http_batch_naming_one_id_twice_is_refused(writable_server):
    url, _ = writable_server
    twice = [{**NEW, "id": "test-twice"}, {**NEW, "id": "test-twice", "text": "Lain."}]
    response = httpx.post(f"{url}/articles", json=twice, headers=AUTH)
    assert response.status_code == 422
    assert "'test-twice' repeats articles[0]" in response.text
    assert httpx.get(f"{url}/articles/test-twice").status_code == 404


def test_filters_hold_after_updates_and_deletes(tmp_path, embedder, dense):
    from service.retrieval import Filters

    index_dir = tmp_path / "index"
    build_index([write_jsonl(tmp_path / "a.jsonl", RECORDS[:10])], index_dir, embedder, dense=dense)
    before = IndexStore.open(index_dir, dense=dense)
    assert event_ids(before, embedder, 2024) == ["nq-009", "nq-010"]
    assert event_ids(before, embedder, 1999) == []
    before.close()
    changed = [dict(r) for r in RECORDS[:9]]  # RECORDS[9] is pruned
    text = changed[0]["text"] + " Tambahan pada 12 Maret 1999."
    changed[0] = {**changed[0], "category": "Uji Filter", "text": text}
    source = write_jsonl(tmp_path / "b.jsonl", changed)
    build_index([source], index_dir, embedder, prune=True, dense=dense)
    store = IndexStore.open(index_dir, dense=dense)
    assert len(store.live) > store.manifest.chunks  # tombstoned rows are still numbered
    retriever = HybridRetriever(store, embedder)
    for filters in (
        Filters(category="uji filter"),
        Filters(category=RECORDS[1]["category"]),
        Filters(published_from=datetime(2019, 1, 1)),  # naive: Jakarta time
        Filters(published_to=datetime(1, 1, 2)),
    ):
        for mode in ("hybrid", "dense", "bm25"):
            hits = HybridRetriever(store, embedder, mode=mode).retrieve(QUERIES[0], 10, filters)
            for hit in hits:
                chunk = hit.passages[0].chunk
                assert hit.article_id != RECORDS[9]["id"]
                if filters.category:
                    assert chunk.category.casefold() == filters.category.casefold()
                assert filters.published_to is None, "nothing was published in year 1"
    budaya = retriever.retrieve(QUERIES[0], 10, Filters(category="Uji Filter"))
    assert [h.article_id for h in budaya] == [changed[0]["id"]]
    assert "Tambahan pada" in store.article(changed[0]["id"]).text
    # event filters: the replaced text's date counts, the pruned article's do not
    assert event_ids(store, embedder, 1999) == [changed[0]["id"]]
    assert event_ids(store, embedder, 2024) == ["nq-009"]


def event_ids(store: IndexStore, embedder, year: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The articles naming a time in ``year``, in every retrieval mode (the same set)."""
    from service.retrieval import Filters

    within = Filters(event_from=date(year, 1, 1), event_to=date(year, 12, 31))
    found = [
        sorted(
            {
                h.article_id
                for h in HybridRetriever(store, embedder, mode=m).retrieve(QUERIES[0], 20, within)
            }
        )
        for m in ("dense", "hybrid")
    ]
    assert found[0] == found[1]
    return found[0]


def test_segments_without_stored_events_read_them_from_the_text(tmp_path, embedder, dense):
    """A segment written before events were stored: event filters extract them on open."""
    index_dir = tmp_path / "index"
    build_index([write_jsonl(tmp_path / "a.jsonl", RECORDS[:3])], index_dir, embedder, dense=dense)
    stored = IndexStore.open(index_dir, dense=dense)
    expected = [event_ids(stored, embedder, y) for y in (1965, 2019, 2023)]
    stored.close()
    [db] = list((index_dir / "segments").glob("seg-*/newsqa.sqlite"))
    with sqlite3.connect(db) as connection:
        connection.execute("DROP TABLE events")
    old = IndexStore.open(index_dir, dense=dense)
    assert [event_ids(old, embedder, y) for y in (1965, 2019, 2023)] == expected
    assert expected == [["nq-002"], ["nq-002"], ["nq-003"]]


def _copy_of(record: dict, new_id: str, footer: str) -> dict:
    return {
        **record,
        "id": new_id,
        "url": f"https://salinan.example/{new_id}",
        "text": record["text"] + "\n\n" + footer,
    }


def test_stories_are_stored_with_each_commit_and_kept_by_merges(tmp_path, embedder, dense):
    """Story ids are written in the generation file (crash-safe with the commit): a reopen
    reads them, a later write places only its own articles, a merge keeps them, and a
    generation written before stories were stored gets them on open and writes them next."""
    index_dir = tmp_path / "index"
    original = next(r for r in RECORDS if r["id"] == "nq-003")
    build_index([write_jsonl(tmp_path / "a.jsonl", RECORDS[:8])], index_dir, embedder, dense=dense)
    copy = _copy_of(original, "zz-copy", "Baca juga berita lain dari Kabar Kita.")
    build_index([write_jsonl(tmp_path / "b.jsonl", [copy])], index_dir, embedder, dense=dense)
    gen = json.loads((index_dir / (index_dir / "CURRENT").read_text().strip()).read_text())
    assert gen["stories"] == {"nq-003": ["nq-003", "zz-copy"]}
    # a copy with a smaller id joins, and the story takes its id
    early = _copy_of(original, "aa-copy", "Ikuti Warta Pagi di media sosial.")
    build_index([write_jsonl(tmp_path / "c.jsonl", [early])], index_dir, embedder, dense=dense)
    assert IndexStore.open(index_dir, dense=dense).stories == dict.fromkeys(
        ["aa-copy", "nq-003", "zz-copy"], "aa-copy"
    )
    assert len(IndexStore.open(index_dir, dense=dense).segments) == 3
    with IndexWriter(
        index_dir, embedder.name, embedder.dimension, dense=dense, max_segments=1
    ) as w:  # all segments but the largest are merged
        w.delete(["aa-copy"])
        merged = w.commit()
    assert len(merged.segments) == 2 and merged.stories == {"nq-003": ["nq-003", "zz-copy"]}

    current = index_dir / (index_dir / "CURRENT").read_text().strip()
    legacy = json.loads(current.read_text())
    del legacy["stories"]
    current.write_text(json.dumps(legacy))
    assert IndexStore.open(index_dir, dense=dense).stories == dict.fromkeys(
        ["nq-003", "zz-copy"], "nq-003"
    )
    build_index([write_jsonl(tmp_path / "d.jsonl", [RECORDS[9]])], index_dir, embedder, dense=dense)
    assert IndexStore.open(index_dir, dense=dense).manifest.stories == {
        "nq-003": ["nq-003", "zz-copy"]
    }


def _generation_files(index_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(index_dir.glob("gen-*.json"))}


def test_generation_files_are_never_overwritten_after_current_is_set_back(
    tmp_path, embedder, dense
):
    index_dir = tmp_path / "index"
    for i in range(3):
        source = write_jsonl(tmp_path / f"{i}.jsonl", RECORDS[i : i + 1])
        build_index([source], index_dir, embedder, dense=dense)
    before = _generation_files(index_dir)
    assert list(before) == ["gen-000001.json", "gen-000002.json", "gen-000003.json"]
    (index_dir / "CURRENT").write_text("gen-000001.json\n")  # an operator's rollback
    source = write_jsonl(tmp_path / "3.jsonl", RECORDS[3:4])
    report = build_index([source], index_dir, embedder, dense=dense)
    assert report.manifest.generation == 4  # above every file present, not base + 1
    after = _generation_files(index_dir)
    assert {k: after[k] for k in before if k in after} == {
        k: before[k] for k in before if k in after
    }
    assert {"gen-000002.json", "gen-000003.json"} <= set(after)  # newer than the rollback
    store = IndexStore.open(index_dir, dense=dense)
    assert sorted(store.article_ids()) == sorted([RECORDS[0]["id"], RECORDS[3]["id"]])


def test_an_empty_current_is_refused_by_readers_and_writers(tmp_path, embedder, dense):
    from newsqa.errors import CorruptIndexError

    index_dir = tmp_path / "index"
    build_index([write_jsonl(tmp_path / "a.jsonl", RECORDS[:2])], index_dir, embedder, dense=dense)
    (index_dir / "CURRENT").write_text("")
    files = _generation_files(index_dir)
    segments = sorted(p.name for p in (index_dir / "segments").iterdir())
    with pytest.raises(CorruptIndexError, match="CURRENT is empty"):
        source = write_jsonl(tmp_path / "b.jsonl", RECORDS[2:3])
        build_index([source], index_dir, embedder, dense=dense)
    with pytest.raises(CorruptIndexError, match="CURRENT is empty"):
        IndexStore.open(index_dir, dense=dense)
    assert _generation_files(index_dir) == files  # nothing written, nothing cleaned up
    assert sorted(p.name for p in (index_dir / "segments").iterdir()) == segments


def test_service_refuses_to_write_into_an_index_that_vanished(
    tmp_path, corpus_index, settings, embedder
):
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from service.app import create_app

    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    token = SecretStr(TOKEN)
    app = create_app(settings.model_copy(update={"index_dir": index_dir, "admin_token": token}))
    with TestClient(app, raise_server_exceptions=False) as client:
        shutil.rmtree(index_dir)
        response = client.post("/articles", json=NEW, headers=AUTH)
        assert response.status_code == 503
        assert "no committed index" in response.json()["detail"]
        assert not index_dir.exists()  # no one-article index in its place
        search = client.get("/search", params={"q": "jembatan Ampera"})  # still served
        assert search.status_code == 200 and search.json()["passages"]


def test_http_copies_are_one_story_through_writes(writable_server):
    """Republished copies of an article show once in /search (the copies under the hit),
    follow updates and deletes, and come apart with collapse=false."""
    url, _ = writable_server
    original = next(r for r in RECORDS if r["id"] == "nq-003")  # chili prices in Palembang
    paragraphs = [p for p in original["text"].split("\n") if p.strip()]
    copies = [
        {
            **original,
            "id": "copy-kabar",
            "title": "Cabai Rawit di Palembang Kini Rp 90 Ribu Sekilo",
            "source": "Kabar Kita",
            "url": "https://kabarkita.example/cabai-rawit-palembang",
            "text": "PALEMBANG, KABARKITA - " + "\n\n".join(paragraphs[:-1]) + "\n\n(kk/red)",
        },
        {
            **original,
            "id": "copy-warta",
            "title": "Harga Cabai Rawit Melonjak di Pasar Palembang",
            "source": "Warta Pagi",
            "url": "https://wartapagi.example/cabai",
            "text": original["text"] + "\n\nIkuti berita terkini Warta Pagi di media sosial.",
        },
    ]
    try:
        response = httpx.post(f"{url}/articles", json=copies, headers=AUTH, timeout=120)
        assert response.status_code == 201, response.text
        story = {"nq-003", "copy-kabar", "copy-warta"}
        params = {"q": "harga cabai rawit di pasar Palembang", "k": 10}

        def shown(**extra):  # type: ignore[no-untyped-def]
            passages = httpx.get(f"{url}/search", params={**params, **extra}, timeout=60).json()
            hits = {}
            for p in passages["passages"]:
                hits.setdefault(p["article_id"], {a["article_id"] for a in p["also_reported_by"]})
            return hits

        hits = shown()
        [hit] = [a for a in hits if a in story]  # the story once in the top 10 ...
        assert hits[hit] == story - {hit}  # ... its copies under it
        assert story <= set(shown(collapse="false"))  # every article when asked
        # under a filter, a story names only the copies that pass it: it named copies of
        # other outlets under source="Warta Pagi" (and later-dated ones under published_to)
        assert {a: c for a, c in shown(source="Warta Pagi").items() if a in story} == {
            "copy-warta": set()
        }
        two = shown(source=["Warta Pagi", "Kabar Kita"])
        [hit] = [a for a in two if a in story]
        assert two[hit] == {"copy-warta", "copy-kabar"} - {hit}
        article = httpx.get(f"{url}/articles/copy-warta").json()
        assert article["story"]["id"] == "copy-kabar"
        assert {m["article_id"] for m in article["story"]["members"]} == story
        answer = httpx.post(
            f"{url}/ask", json={"question": "berapa harga cabai rawit di Palembang?"}, timeout=60
        ).json()
        cited = {c["article_id"] for c in answer["citations"]}
        assert len(cited & story) == 1  # one copy cited, quoting its own text
        for c in answer["citations"]:
            text = httpx.get(f"{url}/articles/{c['article_id']}").json()["text"]
            assert text[c["char_start"] : c["char_end"]] == c["quote"]

        # a copy rewritten into another story leaves; the deleted original leaves too
        other = {
            **copies[0],
            "text": "Dinas Perhubungan Palembang menambah dua rute bus Trans Musi mulai pekan "
            "depan. Rute baru itu menghubungkan Terminal Alang-Alang Lebar dengan kawasan "
            "Jakabaring dan melintasi Jembatan Musi IV.",
        }
        assert (
            httpx.put(
                f"{url}/articles/copy-kabar", json=other, headers=AUTH, timeout=120
            ).status_code
            == 200
        )
        assert httpx.get(f"{url}/articles/copy-kabar").json()["story"] is None
        assert httpx.delete(f"{url}/articles/nq-003", headers=AUTH).status_code == 200
        assert httpx.get(f"{url}/articles/copy-warta").json()["story"] is None
        assert all(not a for a in shown().values())
    finally:
        for article_id in ("copy-kabar", "copy-warta"):
            httpx.delete(f"{url}/articles/{article_id}", headers=AUTH)
        httpx.post(f"{url}/articles", json=original, headers=AUTH, timeout=120)


def test_http_another_text_under_a_known_url_is_kept_and_cited_as_its_own(
    writable_server, tmp_path
):
    """An article under an indexed URL but with other words (a correction sent under a new
    id) was folded into the first as its copy: its text was lost, its id served the other
    text, and an export read back into a new index lost an article that an update had put
    under the same URL. Only the same page's text under the URL is a copy now."""
    url, index_dir = writable_server
    rewritten = {
        **NEW,
        "id": "kite-correction",
        "url": NEW["url"].replace("contoh-berita", "Contoh-Berita") + "/?utm_source=wa",
        "text": "Festival layang-layang di Pantai Parangtritis diundur ke bulan Agustus karena "
        "angin kencang. Panitia meminta 40 kelompok peserta menyimpan layang-layang mereka.",
    }
    rescraped = {
        **NEW,
        "id": "kite-rescraped",
        "text": NEW["text"] + " Baca juga: jadwal festival layang-layang berikutnya.",
    }
    try:
        assert httpx.put(f"{url}/articles/{NEW['id']}", json=NEW, headers=AUTH).status_code in (
            200,
            201,
        )
        response = httpx.post(
            f"{url}/articles", json=[rewritten, rescraped], headers=AUTH, timeout=120
        )
        assert response.status_code == 201, response.text
        assert response.json()["duplicates"] == {"kite-rescraped": NEW["id"]}
        assert response.json()["added"] == 1
        assert httpx.get(f"{url}/articles/kite-correction").json()["text"] == rewritten["text"]
        answer = httpx.post(
            f"{url}/ask",
            json={"question": "festival layang-layang Parangtritis diundur ke bulan apa?"},
            timeout=60,
        ).json()
        assert "kite-correction" in {c["article_id"] for c in answer["citations"]}, answer
        # an export read back into a new index keeps both articles of the URL
        exported = tmp_path / "export.jsonl"
        subprocess.run(
            [sys.executable, "-m", "newsqa", "export", "--index-dir", str(index_dir)],
            check=True,
            stdout=exported.open("w"),
            stderr=subprocess.DEVNULL,
        )
        again = dedupe(a for a in read_articles([exported]) if isinstance(a, Article))
        assert {NEW["id"], "kite-correction"} <= {a.id for a in again.kept}
        assert again.dropped == []
    finally:
        for article_id in (NEW["id"], "kite-correction", "kite-rescraped"):
            httpx.delete(f"{url}/articles/{article_id}", headers=AUTH)


def test_http_copies_of_a_real_article_are_one_story(writable_server, shared_dir):
    """Copies of a real detik article made the ways outlets republish (other outlet and
    headline, dateline, footer, last paragraph dropped): once in /search's top 10, with the
    copies under it; another day's report on the same topic stays its own story."""
    url, _ = writable_server
    with open(shared_dir / "data" / "news" / "detik-2025.jsonl", encoding="utf-8") as f:
        real = {r["id"]: r for r in map(json.loads, f) if r["id"] in {"detik-0145", "detik-0151"}}
    original = real["detik-0145"]
    paragraphs = [p for p in original["text"].split("\n") if p.strip()]
    copies = [
        {
            **original,
            "id": "kurs-copy-1",
            "title": "Rupiah Kembali Tertekan, Dolar AS Menguat Pagi Ini",
            "source": "Kabar Kita",
            "url": "https://kabarkita.example/rupiah",
            "text": "JAKARTA, KABARKITA - " + "\n\n".join(paragraphs[:-1]),
        },
        {
            **original,
            "id": "kurs-copy-2",
            "source": "Warta Pagi",
            "url": "https://wartapagi.example/rupiah",
            "text": original["text"] + "\n\nSimak berita ekonomi lainnya di Warta Pagi.",
        },
    ]
    written = [original, real["detik-0151"], *copies]
    try:
        response = httpx.post(f"{url}/articles", json=written, headers=AUTH, timeout=180)
        assert response.status_code == 201, response.text
        found = httpx.get(
            f"{url}/search", params={"q": "dolar AS menguat terhadap rupiah", "k": 10}, timeout=60
        ).json()
        shown = {}
        for p in found["passages"]:
            shown.setdefault(p["article_id"], {a["article_id"] for a in p["also_reported_by"]})
        story = {"detik-0145", "kurs-copy-1", "kurs-copy-2"}
        [hit] = [a for a in shown if a in story]
        assert shown[hit] == story - {hit}
        assert shown.get("detik-0151") == set()  # 21 July's report: shares little, not merged
    finally:
        for record in written:
            httpx.delete(f"{url}/articles/{record['id']}", headers=AUTH)


def test_the_app_lets_go_of_the_generation_it_started_with(tmp_path, embedder, settings, dense):
    """After writes, nothing of the app holds the generation it started with (its vectors in
    memory, its segment files open after a merge deleted them): the app kept its first
    components to build the next ones from, and with them that generation for as long as the
    server ran (a server showed its startup segments "(deleted)" in /proc/PID/fd forty
    generations later)."""
    import gc
    import weakref

    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from service.app import create_app

    index_dir = tmp_path / "index"
    build_index([write_jsonl(tmp_path / "a.jsonl", RECORDS[:2])], index_dir, embedder, dense=dense)
    writable = settings.model_copy(
        update={
            "index_dir": index_dir,
            "admin_token": SecretStr(TOKEN),
            "rate_limit_per_minute": 0,
        }
    )
    with TestClient(create_app(writable, embedder)) as client:
        startup = weakref.ref(client.app.state.components.store)
        for n in range(2):
            record = {**RECORDS[n], "text": f"{RECORDS[n]['text']} Ralat nomor {n}."}
            put = client.put(f"/articles/{record['id']}", json=record, headers=AUTH)
            assert put.status_code == 200, put.text
        assert client.app.state.components.store is not startup()
        gc.collect()
        assert startup() is None, gc.get_referrers(startup())


@pytest.mark.parametrize("how", ["moved into place", "rebuilt in place"])
def test_the_app_serves_an_index_directory_replaced_by_another(
    tmp_path, embedder, settings, dense, how
):
    """An index directory swapped for another one (``mv index.new index``, or removed and
    built again) starts over at gen-000001.json, the name the served one had: the app compared
    names, took the new directory for the one it served, and kept answering from the replaced
    articles (/articles listed them, /search cited them, the new ones were 404) until the next
    commit."""
    from fastapi.testclient import TestClient

    from service.app import create_app

    index_dir = tmp_path / "index"
    build_index([write_jsonl(tmp_path / "a.jsonl", RECORDS[:2])], index_dir, embedder, dense=dense)
    served = settings.model_copy(update={"index_dir": index_dir, "reload_interval": 0.1})
    with TestClient(create_app(served, embedder)) as client:
        assert [a["id"] for a in client.get("/articles").json()["articles"]] == [
            RECORDS[0]["id"],
            RECORDS[1]["id"],
        ]
        new = [write_jsonl(tmp_path / "b.jsonl", RECORDS[2:4])]
        if how == "moved into place":
            build_index(new, tmp_path / "index.new", embedder, dense=dense)
            index_dir.rename(tmp_path / "index.old")
            (tmp_path / "index.new").rename(index_dir)
        else:
            shutil.rmtree(index_dir)
            build_index(new, index_dir, embedder, dense=dense)
        assert (index_dir / "CURRENT").read_text().strip() == "gen-000001.json"
        wanted = [RECORDS[2]["id"], RECORDS[3]["id"]]
        _wait_for(
            lambda: [a["id"] for a in client.get("/articles").json()["articles"]] == wanted,
            5,
            "the new directory's articles",
        )
        assert client.get(f"/articles/{RECORDS[0]['id']}").status_code == 404
        assert client.get(f"/articles/{RECORDS[2]['id']}").json()["text"] == RECORDS[2]["text"]
        cited = {
            p["article_id"]
            for p in client.get("/search", params={"q": "Palembang"}).json()["passages"]
        }
        assert cited <= set(wanted), cited
