"""Generations: the manifest each commit writes, and the ``CURRENT`` pointer that names one.

A commit writes a new small generation file and then replaces ``CURRENT``; a reader only ever
opens what ``CURRENT`` names, so a writer killed at any moment leaves the last committed state.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from indexer.store.layout import CURRENT, FORMAT_VERSION
from newsqa.errors import CorruptIndexError, IncompatibleIndexError, IndexNotFoundError


@dataclass(frozen=True)
class Manifest:
    """One committed generation; the service refuses a model/format mismatch."""

    format_version: int
    model: str
    dimension: int
    articles: int
    chunks: int
    duplicates: int
    created_at: str
    source_hash: str = ""
    generation: int = 0
    segments: list[str] = field(default_factory=list)
    deleted: dict[str, list[str]] = field(default_factory=dict)  # segment -> ids
    # indexer.stories: story id -> member ids, stories of two or more; None in a generation
    # written before stories were stored (the reader finds them from the articles then).
    stories: dict[str, list[str]] | None = None
    # NEWSQA_VECTOR_STORE=milvus: the collection holding this index's vectors, and the last
    # generation a Milvus-mode writer committed (a service on Milvus refuses any later one).
    milvus_collection: str = ""
    milvus_generation: int = 0

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            fields = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise CorruptIndexError(f"unreadable index manifest {path}: {exc}") from exc
        # The version first: a newer newsqa's generation may hold fields this one lacks, and
        # naming them ("unexpected keyword argument 'stories'", as releases before this check
        # said of this one's) reads as a damaged index when it is only a newer one.
        if isinstance(fields, dict):
            check_format(fields.get("format_version"), path.parent)
        try:
            return cls(**fields)
        except TypeError as exc:
            raise CorruptIndexError(f"unreadable index manifest {path}: {exc}") from exc

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


@dataclass(frozen=True)
class Committed:
    """Which commit ``CURRENT`` names: the generation file's name, and the pointer file itself
    (device, inode, mtime). The name alone repeats: an index directory rebuilt from scratch, or
    swapped for another (``mv index.new index``), starts again at ``gen-000001.json``, and a
    service that compared names kept serving the articles of the directory it had replaced.
    Every commit renames a new ``CURRENT`` into place, so the file differs even then."""

    name: str
    file: tuple[int, int, int]


def committed(index_dir: Path) -> Committed | None:
    """What ``CURRENT`` names now, or None when nothing was ever committed. The name and the
    file's identity come from one open file, so they belong to the same commit."""
    path = index_dir / CURRENT
    try:
        with path.open("rb") as f:
            st = os.fstat(f.fileno())
            name = f.read().decode("utf-8", errors="replace").strip()
    except FileNotFoundError:
        return None
    except NotADirectoryError as exc:  # a corpus file given as the index: it is no index
        raise IndexNotFoundError(
            f"{index_dir} is a file, not an index directory: build an index with "
            f"`newsqa index CORPUS --index-dir DIR` and open DIR"
        ) from exc
    except OSError as exc:
        raise CorruptIndexError(f"cannot read {path}: {exc}") from exc
    if not name:
        raise CorruptIndexError(
            f"{path} is empty: it must name a generation file (gen-N.json) of "
            "that directory; restore it, or remove the directory and rebuild the index"
        )
    return Committed(name, (st.st_dev, st.st_ino, st.st_mtime_ns))


def current_generation(index_dir: Path) -> str | None:
    """The committed generation's file name, or None when nothing was ever committed."""
    at = committed(index_dir)
    return None if at is None else at.name


def read_manifest(index_dir: Path, at: Committed | None = None) -> Manifest:
    """The generation ``at`` names (default: the one ``CURRENT`` names now)."""
    at = at or committed(index_dir)
    if at is None:
        raise IndexNotFoundError(
            f"no index in {index_dir}: build one with `newsqa index CORPUS --index-dir {index_dir}`"
        )
    return Manifest.read(index_dir / at.name)


def check_format(version: object, index_dir: Path) -> None:
    """Refuse an index of a format this newsqa cannot read, telling which way to go: an older
    one is rebuilt, but a newer one holds articles (HTTP writes among them) that only the
    newer newsqa can read out, so "rebuild it" would lose them: that is a rollback."""
    if not isinstance(version, int) or isinstance(version, bool):
        raise CorruptIndexError(f"index at {index_dir} has no valid format_version: {version!r}")
    if version > FORMAT_VERSION:
        raise IncompatibleIndexError(
            f"index at {index_dir} has format version {version}, written by a newer newsqa; "
            f"this one reads version {FORMAT_VERSION}: serve it with that newer newsqa, or "
            "restore the copy of the index kept from before the upgrade, or `newsqa export` it "
            "with the newer newsqa and `newsqa index` the export into a new directory with this one"
        )
    if version < FORMAT_VERSION:
        raise IncompatibleIndexError(
            f"index at {index_dir} has format version {version}, this newsqa reads version "
            f"{FORMAT_VERSION}: rebuild it with `newsqa index CORPUS --index-dir NEW_DIR`"
        )


def check_compatible(manifest: Manifest, index_dir: Path, expected_model: str | None) -> None:
    """Refuse an index of another format, or built for another model than ``expected_model``."""
    check_format(manifest.format_version, index_dir)
    if expected_model is not None and manifest.model != expected_model:
        raise IncompatibleIndexError(
            f"index at {index_dir} was built with model {manifest.model!r} but the service is "
            f"configured with {expected_model!r}: rebuild the index or set NEWSQA_EMBED_MODEL "
            "to match"
        )


def check_in_milvus(manifest: Manifest, index_dir: Path) -> None:
    """Refuse to serve from Milvus a generation its collection does not hold."""
    if not manifest.milvus_collection or manifest.milvus_generation != manifest.generation:
        raise IncompatibleIndexError(
            f"index at {index_dir} (generation {manifest.generation}) is not in Milvus"
            + (
                f" (collection {manifest.milvus_collection} holds generation "
                f"{manifest.milvus_generation})"
                if manifest.milvus_collection
                else ""
            )
            + ": run `newsqa index` with NEWSQA_VECTOR_STORE=milvus to upload it, or serve it "
            "with NEWSQA_VECTOR_STORE=faiss"
        )
