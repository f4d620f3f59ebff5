"""Faults: a missing or corrupt index at start, a corrupt generation while serving, disk full."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import CORPUS_DIR, running_server

from indexer.pipeline import build_index
from indexer.sources import article_from_record
from indexer.store import IndexStore, IndexWriter
from newsqa.errors import IndexWriteError
from newsqa.server_process import free_port


def serve_fails(index_dir: Path, settings, port: int | None = None) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    """`newsqa serve` that is expected to exit before serving (on a free port: the port is
    bound first, and an unprivileged user cannot bind port 1)."""
    port = port or free_port()
    return subprocess.run(
        [sys.executable, "-m", "newsqa", "serve", "--index-dir", str(index_dir)]
        + ["--host", "127.0.0.1", "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NEWSQA_CACHE_DIR": str(settings.cache_dir)},
    )


def current_segment(index_dir: Path) -> Path:
    manifest = json.loads((index_dir / (index_dir / "CURRENT").read_text().strip()).read_text())
    return index_dir / "segments" / manifest["segments"][0]


def test_serve_refuses_a_missing_or_corrupt_index(tmp_path, corpus_index, settings):
    missing = serve_fails(tmp_path / "nothing", settings)
    assert missing.returncode == 1
    assert "no index in" in missing.stdout + missing.stderr

    corrupt = tmp_path / "corrupt"
    shutil.copytree(corpus_index, corrupt)
    vectors = current_segment(corrupt) / "vectors.faiss"
    vectors.write_bytes(vectors.read_bytes()[:100])
    result = serve_fails(corrupt, settings)
    assert result.returncode == 1
    assert "cannot be read" in result.stdout + result.stderr

    # reader weights that are not there: one line before the start, not a traceback (exit 3)
    no_weights = subprocess.run(
        [sys.executable, "-m", "newsqa", "serve", "--index-dir", str(corpus_index)]
        + ["--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "NEWSQA_CACHE_DIR": str(settings.cache_dir),
            "NEWSQA_READER_WEIGHTS": str(tmp_path / "none.safetensors"),
        },
    )
    assert no_weights.returncode == 1, no_weights.stderr
    assert "no reader weights at" in no_weights.stderr
    assert "Traceback" not in no_weights.stderr


def test_corrupt_generation_while_serving_is_refused(tmp_path, corpus_index, settings):
    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    with running_server(index_dir, settings.cache_dir, NEWSQA_RATE_LIMIT_PER_MINUTE="0") as url:
        before = httpx.get(f"{url}/ready").json()
        # A generation whose one segment has a truncated vector file appears and is committed.
        good = current_segment(index_dir)
        bad = good.parent / "seg-corrupted"
        shutil.copytree(good, bad)
        (bad / "vectors.faiss").write_bytes(b"\0" * 64)
        manifest = json.loads((index_dir / (index_dir / "CURRENT").read_text().strip()).read_text())
        manifest.update(generation=manifest["generation"] + 1, segments=["seg-corrupted"])
        (index_dir / "gen-999999.json").write_text(json.dumps(manifest))
        (index_dir / "CURRENT").write_text("gen-999999.json\n")
        time.sleep(2)  # several reload polls
        after = httpx.get(f"{url}/ready").json()
        assert after["generation"] == before["generation"]
        answer = httpx.post(
            f"{url}/ask", json={"question": "which Palembang programs won 2020 awards"}, timeout=60
        )
        assert answer.status_code == 200 and "Poltabes" in answer.json()["answer"]


@pytest.fixture
def tiny_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)])
    if result.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler


def test_disk_full_fails_clearly_and_keeps_the_index(tmp_path, tiny_disk, embedder, settings):
    records = [json.loads(line) for line in (CORPUS_DIR / "articles.jsonl").open()]
    first, more = tmp_path / "first.jsonl", tmp_path / "more.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in records[:3]))
    more.write_text("".join(json.dumps(r) + "\n" for r in records[3:10]))
    index_dir = tiny_disk / "index"
    build_index([first], index_dir, embedder)
    filler = fill(tiny_disk)

    with pytest.raises(IndexWriteError, match="No space left on device"):
        build_index([more], index_dir, embedder)
    cli = subprocess.run(
        [sys.executable, "-m", "newsqa", "index", str(more), "--index-dir", str(index_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NEWSQA_CACHE_DIR": str(settings.cache_dir)},
    )
    assert cli.returncode == 1
    said = " ".join((cli.stdout + cli.stderr).split())  # the console wraps long lines
    assert "No space left on device" in said
    assert "committed index is unchanged" in said

    store = IndexStore.open(index_dir)
    assert store.manifest.articles == 3
    assert not [p for p in (index_dir / "segments").iterdir() if p.name.startswith(".tmp")]
    store.close()
    filler.unlink()
    assert build_index([more], index_dir, embedder).manifest.articles == 10


def test_a_killed_writers_temporary_files_go_with_the_next_commit(tmp_path, embedder):
    """A writer killed between linking ``gen-N.json`` into place and removing its temporary
    name, or while writing ``CURRENT``, left ``.gen-N.json.tmp`` / ``.CURRENT.tmp`` in the
    index directory for good: the next commit writes the next N."""
    records = [json.loads(line) for line in (CORPUS_DIR / "articles.jsonl").open()]
    source = tmp_path / "a.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records[:2]))
    index_dir = tmp_path / "index"
    build_index([source], index_dir, embedder)
    generation = IndexStore.open(index_dir)
    leftovers = [index_dir / f".gen-{generation.manifest.generation:06d}.json.tmp"]
    leftovers.append(index_dir / ".CURRENT.tmp")
    generation.close()
    for path in leftovers:
        path.write_text("{}")

    with IndexWriter(index_dir, embedder.name, embedder.dimension) as writer:
        writer.delete([records[0]["id"]])
        writer.commit()
    assert not [p.name for p in leftovers if p.exists()]
    store = IndexStore.open(index_dir)
    assert store.manifest.articles == 1
    store.close()


def test_a_merge_that_finds_the_disk_full_leaves_its_commit_standing(tmp_path, tiny_disk, embedder):
    """A commit goes in, then its merge runs out of space: the commit used to raise "the
    committed index is unchanged" although the write was in (a retried delete then found
    nothing to delete). Now the commit stands and the next commit merges."""
    records = [json.loads(line) for line in (CORPUS_DIR / "articles.jsonl").open()]
    index_dir = tiny_disk / "index"
    for i, part in enumerate((records[:3], records[3:6])):
        source = tmp_path / f"{i}.jsonl"
        source.write_text("".join(json.dumps(r) + "\n" for r in part))
        build_index([source], index_dir, embedder)
    gone = records[4]["id"]
    # Room for a generation file and CURRENT (a page each), not for a merged segment.
    filler = tiny_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        os.ftruncate(fd, max(0, os.fstat(fd).st_size - 4 * 4096))
    finally:
        os.close(fd)

    with IndexWriter(index_dir, embedder.name, embedder.dimension, max_segments=1) as writer:
        writer.delete([gone])
        manifest = writer.commit()  # the delete's commit; its merge fails
    assert len(manifest.segments) == 2 and manifest.articles == 5
    store = IndexStore.open(index_dir)
    assert store.article(gone) is None and store.manifest.generation == manifest.generation
    store.close()
    assert not [p for p in (index_dir / "segments").iterdir() if p.name.startswith(".tmp")]

    filler.unlink()
    with IndexWriter(index_dir, embedder.name, embedder.dimension, max_segments=1) as writer:
        writer.delete([records[0]["id"]])
        merged = writer.commit()
    assert set(merged.segments) != set(manifest.segments) and merged.articles == 4


def _descendants(pid: int) -> set[int]:
    """The processes below ``pid``, from /proc (children's children included)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def test_a_killed_server_leaves_no_write_worker_behind(tmp_path, corpus_index, settings):
    """SIGKILL (an out-of-memory kill, a supervisor that kills the main process only) runs no
    shutdown: the write worker, its forkserver and the resource tracker lived on, the worker
    holding its model (about 2 GB), for good."""
    from newsqa.server_process import serve_in_background

    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    env = {
        "NEWSQA_CACHE_DIR": str(settings.cache_dir),
        "NEWSQA_ADMIN_TOKEN": "faults-token",
        "NEWSQA_RATE_LIMIT_PER_MINUTE": "0",
    }
    with serve_in_background(index_dir, env) as server:
        written = httpx.put(
            f"{server.url}/articles/fault-1",
            json={"text": "Pasar malam dibuka lagi di tepi Sungai Musi pada akhir pekan."},
            headers={"Authorization": "Bearer faults-token"},
            timeout=120,
        )
        assert written.status_code == 201, written.text
        below = _descendants(server.proc.pid)
        assert below, "the write ran in no worker process"
        server.proc.kill()
        server.proc.wait()
        deadline = time.monotonic() + 30
        while (left := {p for p in below if Path(f"/proc/{p}").exists()}) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.5)
        for pid in left:  # do not leave them to the rest of the session
            os.kill(pid, 9)
        assert not left, f"processes left after the server was killed: {sorted(left)}"
    store = IndexStore.open(index_dir)  # the write was committed before the kill
    try:
        assert store.article("fault-1") is not None
    finally:
        store.close()


def test_a_first_write_behind_another_writer_waits_the_lock_timeout_only(
    tmp_path, corpus_index, settings
):
    """The write worker loaded its model (seconds) before it asked for the index lock, so the
    server's first write, behind another process's writer, answered 409 after the model load
    plus NEWSQA_WRITE_LOCK_TIMEOUT (12 s for a timeout of 2). The lock comes first now, and
    the model loads under it: the refusal comes before the model is loaded, which the write
    that follows (the lock free) then pays."""
    from filelock import FileLock

    from indexer.store import LOCK
    from newsqa.server_process import serve_in_background

    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    env = {
        "NEWSQA_CACHE_DIR": str(settings.cache_dir),
        "NEWSQA_ADMIN_TOKEN": "faults-token",
        "NEWSQA_RATE_LIMIT_PER_MINUTE": "0",
        "NEWSQA_WRITE_LOCK_TIMEOUT": "1",
    }
    article = {"text": "Dermaga baru di tepi Sungai Musi dibuka untuk perahu wisata."}
    headers = {"Authorization": "Bearer faults-token"}
    with serve_in_background(index_dir, env) as server:
        other_writer = FileLock(str(index_dir / LOCK))
        other_writer.acquire(timeout=0)
        try:
            started = time.monotonic()
            refused = httpx.put(
                f"{server.url}/articles/lock-1", json=article, headers=headers, timeout=300
            )
            refused_after = time.monotonic() - started
        finally:
            other_writer.release()
        assert refused.status_code == 409, refused.text
        assert "being written by another process" in refused.json()["detail"]
        started = time.monotonic()
        written = httpx.put(
            f"{server.url}/articles/lock-1", json=article, headers=headers, timeout=300
        )
        written_after = time.monotonic() - started
        assert written.status_code == 201, written.text
    # The refusal did not wait for the model (the write after it did): relative, so that a
    # busy machine, which slows both, does not decide it.
    assert refused_after < written_after, (refused_after, written_after)


def test_a_bulk_write_on_a_full_disk_fails_with_the_writers_message(tmp_path, tiny_disk, embedder):
    """A bulk job's progress file could not be written on a full disk either: its OSError
    failed the write as "internal error: OSError: [Errno 28] ..." and left
    ``<job>.progress.tmp`` in ``.jobs``, which no cleanup removes. Progress is best-effort;
    the write fails as any write on a full disk does, saying the index is unchanged."""
    from indexer.pipeline import write_articles
    from service.write_worker import ProgressFile

    records = [json.loads(line) for line in (CORPUS_DIR / "articles.jsonl").open()]
    first = tmp_path / "first.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in records[:3]))
    index_dir = tiny_disk / "index"
    build_index([first], index_dir, embedder)
    jobs = index_dir / ".jobs"
    jobs.mkdir()
    filler = fill(tiny_disk)
    more = [article_from_record(r, "test") for r in records[3:10]]
    progress = ProgressFile(jobs / "job.progress.json")

    with pytest.raises(IndexWriteError, match="No space left on device.*index is unchanged"):
        write_articles(index_dir, embedder, more, progress=progress)
    assert list(jobs.iterdir()) == []
    filler.unlink()
    assert write_articles(index_dir, embedder, more, progress=progress).articles == 10
    assert ProgressFile.read(jobs / "job.progress.json")


@pytest.fixture
def read_only_copy(tmp_path, corpus_index):
    """A copy of the corpus index behind a read-only bind mount (root ignores file modes)."""
    copy, mount = tmp_path / "index", tmp_path / "ro"
    shutil.copytree(corpus_index, copy)
    mount.mkdir()
    if subprocess.run(["mount", "--bind", str(copy), str(mount)]).returncode != 0:
        pytest.skip("cannot bind-mount here (needs root)")
    try:
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(mount)]).returncode != 0:
            pytest.skip("cannot remount read-only here")
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_write_into_a_read_only_index_says_so(read_only_copy, embedder):
    """The lock file of a read-only index directory cannot be opened: its OSError reached the
    client as a bare 500 Internal Server Error (a bulk job: "internal error: OSError"). Now a
    write fails as a write that cannot be made (503 over HTTP), naming the directory."""
    from indexer.pipeline import write_articles

    article = article_from_record({"id": "ro-1", "text": "Jembatan Ampera ditutup."}, "test")
    with pytest.raises(IndexWriteError, match="Read-only file system.*index is unchanged"):
        write_articles(read_only_copy, embedder, [article])
    store = IndexStore.open(read_only_copy)  # still served as it was
    try:
        assert store.article("ro-1") is None
    finally:
        store.close()


def _open_files_under(directory: Path) -> list[str]:
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith(str(directory)):
            found.append(target)
    return found


def test_a_dropped_generation_closes_its_files_at_once(tmp_path, corpus_index):
    """A server drops a generation when it swaps in the next; a segment that writes or merges
    removed then still had its SQLite file open, deleted, disk space and all, until Python's
    cyclic GC happened to run (a sqlite3 connection sits in a reference cycle): 28 such files
    in a server after 200 writes. Dropping the store closes them now."""
    import gc

    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    gc.collect()
    gc.disable()  # as between two runs of the collector in a server
    try:
        store = IndexStore.open(index_dir)
        assert _open_files_under(index_dir)
        del store
        assert _open_files_under(index_dir) == []
    finally:
        gc.enable()


def test_a_generation_that_answered_closes_its_files_when_dropped(tmp_path, corpus_index, embedder):
    """The same after the generation answered a question, as every served one has: its BM25
    statistics cache was a lambda over its own ``LexicalIndex``, a reference cycle that kept
    the whole generation (segments, vectors, SQLite files deleted by merges) until the cyclic
    GC ran: 7 deleted files still open in a server after 9 writes with searches between."""
    import gc

    from service.retrieval import HybridRetriever

    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    gc.collect()
    gc.disable()  # as between two runs of the collector in a server
    try:
        store = IndexStore.open(index_dir)
        retriever = HybridRetriever(store, embedder)
        assert retriever.retrieve("penghargaan inovasi pelayanan publik Palembang", k=3)
        del store, retriever
        assert _open_files_under(index_dir) == []
    finally:
        gc.enable()


def test_reader_weights_cut_short_are_refused_in_one_line_naming_the_file(
    tmp_path, corpus_index, settings
):
    """Reader weights cut short (a partial copy, a disk error): `newsqa ask` failed in a
    170-line SafetensorError traceback ("incomplete metadata"); now one line names the file
    and what its manifest records, before the reader loads (`newsqa serve` asks the same)."""
    from indexer.reader import MANIFEST_PATH, WEIGHTS_PATH

    weights = tmp_path / WEIGHTS_PATH.name
    shutil.copy(WEIGHTS_PATH, weights)
    shutil.copy(MANIFEST_PATH, tmp_path / MANIFEST_PATH.name)
    os.truncate(weights, weights.stat().st_size // 2)
    result = subprocess.run(
        [sys.executable, "-m", "newsqa", "ask", "siapa wali kota Palembang?"]
        + ["--index-dir", str(corpus_index)],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "NEWSQA_CACHE_DIR": str(settings.cache_dir),
            "NEWSQA_READER_WEIGHTS": str(weights),
            "NEWSQA_ANSWER_MODE": "reader",
        },
    )
    assert result.returncode == 1, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith(f"error: {weights} has ")
    assert "where its manifest records" in lines[0]


def test_serve_refuses_a_model_it_cannot_build_in_one_line(tmp_path, corpus_index, settings):
    """A cache where the bundled model cannot be built (here ``models`` is a file, as an
    unwritable cache would refuse the folder; a model file changed on a read-only cache says
    the same): `newsqa serve` passed its checks and died in the app's start-up, a traceback
    in the log and exit 3; now it fails before it starts, in one line naming the folder."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "models").write_text("not a folder")
    result = serve_fails(corpus_index, settings.model_copy(update={"cache_dir": cache}))
    assert result.returncode == 1, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert "the model cannot be built there" in lines[0]
    assert str(cache / "models") in lines[0]
