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


@contextlib.contextmanager
def running_server(index_dir: Path, cache_dir: Path, **env: str) -> Iterator[str]:
    """The real `newsqa serve` over ``index_dir`` on a free loopback port, stopped by PID."""
    from newsqa.server_process import serve_in_background

    with serve_in_background(index_dir, {"NEWSQA_CACHE_DIR": str(cache_dir), **env}) as server:
        yield server.url


@pytest.fixture(scope="session")
def live_server(corpus_index, settings):
    """The real server over the corpus index, for the whole session."""
    with running_server(corpus_index, settings.cache_dir) as url:
        yield url
