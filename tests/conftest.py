"""Shared test fixtures."""

from __future__ import annotations

import contextlib
import json
import os
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


def write_jsonl(path: Path, records: list[dict]) -> Path:
    """``records`` as a corpus file in the JSON Lines format."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return path


@pytest.fixture(scope="session")
def milvus(tmp_path_factory: pytest.TempPathFactory):
    """A real Milvus 2.3.5 standalone server on loopback for the session (tests/milvus_server.py),
    stopped with SIGINT at the end; fails the session if any of its processes is left."""
    pytest.importorskip("milvus", reason="Milvus tests need: pip install -e '.[milvus]'")
    import milvus as milvus_package
    from milvus_server import milvus_server

    from newsqa.settings import Settings

    bin_cache = Settings().cache_dir / f"milvus-{milvus_package.__version__}"
    with milvus_server(tmp_path_factory.mktemp("milvus"), bin_cache=bin_cache) as server:
        print(f"milvus healthy in {server.start_seconds:.1f} s at {server.uri}")
        yield server


@pytest.fixture(scope="session", autouse=True)
def vector_store(request: pytest.FixtureRequest) -> Iterator[str]:
    """``NEWSQA_VECTOR_STORE=milvus pytest ...`` (``make test-scale``) runs the same tests with
    every index mirrored to, and every dense search answered by, the session's Milvus server;
    servers started by tests inherit the setting through the environment."""
    from newsqa.settings import get_settings

    kind = os.environ.get("NEWSQA_VECTOR_STORE", "faiss")
    if kind != "milvus":
        yield kind
        return
    server = request.getfixturevalue("milvus")
    before = os.environ.get("NEWSQA_MILVUS_URI")
    os.environ["NEWSQA_MILVUS_URI"] = server.uri
    get_settings.cache_clear()
    yield kind
    if before is None:
        os.environ.pop("NEWSQA_MILVUS_URI", None)
    else:
        os.environ["NEWSQA_MILVUS_URI"] = before
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory):
    """Default settings (the bundled model, cached where users cache it) over a temp index."""
    from newsqa.settings import Settings

    return Settings(index_dir=tmp_path_factory.mktemp("index") / "corpus")


@pytest.fixture(scope="session")
def embedder(settings):
    """The real bundled model, loaded once for the whole test session."""
    from service.index_open import open_embedder

    return open_embedder(settings)


@pytest.fixture(scope="session")
def dense(settings):
    """Where the session's indexes keep and search vectors (``NEWSQA_VECTOR_STORE``): pass it to
    ``build_index``, ``IndexWriter`` and ``IndexStore.open`` so that ``make test-scale`` mirrors
    and searches every index on Milvus, as the service does."""
    from service.index_open import dense_config

    return dense_config(settings)


@pytest.fixture(scope="session")
def corpus_index(settings, embedder, dense) -> Path:
    """A real index of the project's sample corpus plus the shared Palembang page."""
    from indexer.pipeline import build_index

    build_index(
        [CORPUS_DIR, SHARED_DIR / "data" / "news" / "palembang-awards-2020.txt"],
        settings.index_dir,
        embedder,
        dense=dense,
    )
    return settings.index_dir


@pytest.fixture(scope="module")
def store(corpus_index, settings):
    """The corpus index, opened the way the service opens it."""
    from service.index_open import open_store

    s = open_store(settings, corpus_index)
    yield s
    s.close()


@pytest.fixture(scope="module")
def retriever(store, embedder):
    from service.retrieval import HybridRetriever

    return HybridRetriever(store, embedder)


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
