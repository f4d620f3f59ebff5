"""What produced an eval report: code, settings, model and index.

Figures only compare when they come from the same questions, index and settings; report.json
carries these so that two reports can be told apart, and a figure traced to the commit, the
settings and the exact index generation behind it.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from eval.runner import ModeReport
from indexer.store import IndexStore
from indexer.store.layout import generation_file
from newsqa import __version__
from newsqa.settings import Settings
from service.retrieval import HybridRetriever

REPO_ROOT = Path(__file__).resolve().parents[1]
_SECRET_NAME = re.compile(r"token|key|secret|password", re.IGNORECASE)


class EvalResults(dict[str, list[ModeReport]]):
    """Reports by question set, with the metadata of the run that produced them.

    A dict, so that the CLI, the gate and tests go on treating results as a mapping of set name
    to reports; ``write_report(out, results)`` finds the metadata on it without a new argument.
    """

    def __init__(self, meta: dict[str, object]) -> None:
        super().__init__()
        self.meta = meta


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
    )
    return done.stdout.strip()


def git_state(root: Path = REPO_ROOT) -> dict[str, object]:
    """Commit of the checkout this code runs from, and whether it has uncommitted changes
    (untracked files included: a new module changes what runs). Both None when the code is not
    a git checkout's own (an installed wheel, even one inside some other repository), or when
    git is missing. Read-only: ``--no-optional-locks`` keeps ``git status`` from refreshing
    the index under someone working in the same checkout."""
    try:
        top = _git(root, "rev-parse", "--show-toplevel")
        if Path(top).resolve() != root.resolve():
            return {"commit": None, "dirty": None}
        commit = _git(root, "rev-parse", "HEAD")
        dirty = bool(_git(root, "--no-optional-locks", "status", "--porcelain"))
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def redact_url(value: str) -> str:
    """``value`` without a URL's user and password (an endpoint may carry credentials)."""
    parts = urlsplit(value)
    if not (parts.username or parts.password) or parts.hostname is None:
        return value
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=host))


def settings_snapshot(settings: Settings) -> dict[str, object]:
    """The settings as JSON values, less secrets: every ``SecretStr`` and every field named like
    a token, key, secret or password (``llm_api_key`` is a plain str), and credentials in URLs.
    Left out rather than masked: a report is shared, and a mask still says a secret is set."""
    snapshot: dict[str, object] = {}
    for name, value in settings.model_dump(mode="json").items():
        if _SECRET_NAME.search(name) or isinstance(getattr(settings, name), SecretStr):
            continue
        snapshot[name] = redact_url(value) if isinstance(value, str) else value
    return snapshot


def retrieval_config(retriever: HybridRetriever) -> dict[str, object]:
    """Mode, candidate counts and fusion weights: not settings, so absent from
    ``settings_snapshot``, yet a change to them changes every retrieval figure."""
    return {
        "mode": retriever.mode,
        "translate_english": retriever.translate_english,
        "candidates": retriever.candidates,
        "passages_per_article": retriever.passages_per_article,
        "weights": asdict(retriever.weights),
    }


def index_fingerprint(store: IndexStore) -> dict[str, object]:
    """The index generation the eval read. ``source_hash`` names the corpus files and model it
    was built from (``indexer.pipeline.source_hash``; "" for an index built without one);
    ``generation_sha256`` names the committed state itself (segments, deletions, stories), which
    also tells apart an index changed by writes since it was built."""
    manifest = store.manifest
    generation = store.path / generation_file(manifest.generation)
    return {
        "path": str(store.path),
        "model": manifest.model,
        "source_hash": manifest.source_hash,
        "generation": manifest.generation,
        "generation_sha256": (
            hashlib.sha256(generation.read_bytes()).hexdigest() if generation.is_file() else None
        ),
        "articles": manifest.articles,
        "chunks": manifest.chunks,
        "duplicates": manifest.duplicates,
    }


def code_metadata() -> dict[str, object]:
    """What every report can say about itself, even one written from results made elsewhere."""
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "newsqa_version": __version__,
        "git": git_state(),
    }


def run_metadata(
    settings: Settings,
    store: IndexStore,
    retriever: HybridRetriever,
    modes: Sequence[str],
    k: int,
    url: str | None,
) -> dict[str, object]:
    """The metadata of one ``run_eval``, taken when it starts. With ``url`` the answers come
    from that server's own settings and index; the local ones are still recorded, since the
    local index is what citations are checked against."""
    return {
        **code_metadata(),
        "model": settings.embed_model,
        "answer_mode": settings.answer_mode,
        "k": k,
        "modes": list(modes),
        "url": redact_url(url) if url else None,
        "retrieval": retrieval_config(retriever),
        "settings": settings_snapshot(settings),
        "index": index_fingerprint(store),
    }
