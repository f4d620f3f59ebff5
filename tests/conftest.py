"""Shared test fixtures."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

# The read-only data checkout sits next to the repository (../shared), locally and in CI.
SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    # Fail rather than skip: CI has the data, so its absence is a broken setup, not a choice.
    assert SHARED_DIR.is_dir(), f"shared data not found at {SHARED_DIR}"
    return SHARED_DIR


REPO_DIR = Path(__file__).resolve().parents[1]
CORPUS_DIR = REPO_DIR / "corpus"


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory):
    """Default settings (the bundled model, cached where users cache it) over a temp index."""
    from newsqa.settings import Settings

    return Settings(index_dir=tmp_path_factory.mktemp("index") / "corpus")


@pytest.fixture(scope="session")
def embedder(settings):
    """The real bundled model, loaded once for the whole test session."""
    from indexer.embedder import Embedder

    return Embedder.from_settings(settings)


@pytest.fixture(scope="session")
def corpus_index(settings, embedder) -> Path:
    """A real index of the project's sample corpus plus the shared Palembang page."""
    from indexer.pipeline import build_index

    build_index(
        [CORPUS_DIR, SHARED_DIR / "data" / "news" / "palembang-awards-2020.txt"],
        settings.index_dir,
        embedder,
    )
    return settings.index_dir


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(index_dir: Path, cache_dir: Path, **env_extra: str) -> Iterator[str]:
    """The real `newsqa serve` over ``index_dir`` on a free loopback port, stopped by PID."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    port = _free_port()
    env = {**os.environ, "NEWSQA_CACHE_DIR": str(cache_dir), **env_extra}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newsqa",
            "serve",
            "--index-dir",
            str(index_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            assert proc.poll() is None, "server exited during start-up"
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server not ready after 120 s"
            time.sleep(0.5)
        yield url
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="session")
def live_server(corpus_index, settings):
    """The real server over the corpus index, for the whole session."""
    with running_server(corpus_index, settings.cache_dir) as url:
        yield url
