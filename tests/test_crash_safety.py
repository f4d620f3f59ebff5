"""SIGKILL a writer at random moments: the index always loads and answers its last commit."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import CORPUS_DIR, REPO_DIR

from indexer.store import IndexStore, IndexWriter
from service.retrieval import HybridRetriever

KILLS = 20


@pytest.mark.slow
def test_index_survives_sigkill_at_random_moments(tmp_path, corpus_index, embedder, settings):
    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    log = tmp_path / "commits.log"
    env = {
        **os.environ,
        "NEWSQA_CACHE_DIR": str(settings.cache_dir),
        "PYTHONPATH": str(REPO_DIR),
    }
    rng = random.Random(20261129)
    states: dict[int, int] = {}  # generation -> articles, as logged after each commit
    for run in range(KILLS):
        proc = subprocess.Popen(
            [
                sys.executable,
                str(REPO_DIR / "tests" / "helpers" / "crash_writer.py"),
                str(index_dir),
                str(CORPUS_DIR / "articles.jsonl"),
                str(log),
                str(run),
            ],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "ready"
        if run % 2:  # after the run's first commit, wherever the next one stands
            _wait_for_more_lines(log, _lines(log), proc)
            time.sleep(rng.uniform(0.0, 1.5))
        else:  # anywhere from the start, also before any commit
            time.sleep(rng.uniform(0.0, 3.0))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

        lines = log.read_text().splitlines() if log.exists() else []
        logged = [tuple(map(int, line.split())) for line in lines]
        states.update(logged)
        store = IndexStore.open(index_dir, expected_model=embedder.name)  # checks every file
        generation = store.manifest.generation
        last = max(states) if states else 0
        # The committed state is the last logged commit, or one the writer made just
        # before the kill and had no time to log: its generation, or the one its merge
        # published right after it (``IndexWriter.commit`` merges once segments pile up).
        assert generation in (last, last + 1, last + 2), (run, generation, last)
        if generation in states:
            assert store.manifest.articles == states[generation]
        assert store.manifest.articles == len(store.article_ids())
        hits = HybridRetriever(store, embedder).retrieve("harga cabai naik", k=3)
        assert hits and all(store.article(h.article_id) is not None for h in hits)
        store.close()
    assert len(states) >= KILLS // 2, "the writer rarely reached a commit"
    # After all the kills the next writer still takes the lock and commits.
    with IndexWriter(index_dir, embedder.name, embedder.dimension) as writer:
        writer.commit()
    print(f"[crash] {KILLS} SIGKILLs, {len(states)} commits logged, index loads every time")


def _wait_for_more_lines(log, lines: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Until the writer logs a commit beyond the first ``lines`` (a loaded machine makes the
    first commit slow: a fixed delay killed most runs before any commit)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if _lines(log) > lines:
            return
        time.sleep(0.05)
    raise AssertionError("the writer logged no commit")


def _lines(log) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0
