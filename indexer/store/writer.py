"""The one writer of an index directory: ``IndexWriter`` stages changes and commits them.

A commit writes a new small generation file and then replaces ``CURRENT``; a writer killed at
any moment leaves the last committed state, and a service swapping generations answers from
the old state or the new one, never a mix.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from filelock import FileLock, Timeout

from indexer.dense.factory import DenseConfig, open_mirror
from indexer.store.compaction import (
    MAX_SEGMENTS,
    merged_segment,
    remove_unreferenced,
    segments_to_merge,
)
from indexer.store.layout import (
    CURRENT,
    FORMAT_VERSION,
    LOCK,
    MILVUS_PENDING,
    SEGMENTS,
    fsync_path,
    generation_file,
    generation_numbers,
    write_atomically,
)
from indexer.store.manifest import Manifest
from indexer.store.reader import IndexStore
from indexer.store.segment import Segment
from indexer.store.segment_writer import SegmentData, write_segment
from indexer.stories import Stories, update_stories
from newsqa.errors import IndexBusyError, IndexNotFoundError, IndexWriteError, VectorStoreError

if TYPE_CHECKING:
    from indexer.dense.milvus import MilvusMirror

log = logging.getLogger(__name__)


class IndexWriter:
    """The one writer of an index directory: stage changes, then ``commit`` them atomically.

    Holds the directory's file lock from construction to ``close`` (a second writer waits up to
    ``lock_timeout`` seconds, then gets ``IndexBusyError``). The lock is an OS file lock, so a
    killed writer releases it.

    >>> with IndexWriter(Path("var/index"), model, 384) as writer:
    ...     writer.delete(["old-id"]); writer.add(segment_data); writer.commit()
    """

    def __init__(
        self,
        index_dir: Path,
        model: str,
        dimension: int,
        lock_timeout: float = 0.0,
        reuse: dict[str, Segment] | None = None,
        dense: DenseConfig | None = None,
        *,
        create: bool = True,
        max_segments: int = MAX_SEGMENTS,
        lock: FileLock | None = None,
    ) -> None:
        """``create=False`` refuses a directory with no committed index instead of starting a
        new one there: a service writing into the index it serves must not replace an index
        that vanished under it with one holding only the written articles. ``dense`` with
        Milvus mirrors every commit to its collection (the base is always read from FAISS).
        ``lock``: the directory's lock, already held by the caller (``lock_index``); taken
        again at once (a FileLock is reentrant for its holder) and released once by ``close``,
        so the caller's own hold outlasts the writer."""
        self.index_dir = index_dir
        self.segments_dir = index_dir / SEGMENTS
        self.max_segments = max_segments
        if not create and not (index_dir / CURRENT).is_file():
            raise IndexWriteError(_vanished(index_dir))
        try:
            self.segments_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexWriteError(f"cannot create index directory {index_dir}: {exc}") from exc
        self._lock = _acquire(index_dir, lock_timeout, lock)
        self._reuse = dict(reuse or {})
        self._opened: list[Segment] = []  # closed with the writer; reused ones are not ours
        self.mirror: MilvusMirror | None = None
        self._milvus_drifted = False
        try:
            self.base = self._open_base(model, create)
            if dense is not None and dense.milvus:
                self.mirror = self._open_mirror(dense, dimension)
        except BaseException:
            self._lock.release()
            raise
        self.model = model
        self.dimension = dimension
        self._new: list[str] = []
        self._deleted: dict[str, set[str]] = {}
        # Generation files from this one on are kept by cleanup (see ``remove_unreferenced``).
        self._keep_from = self.base.manifest.generation if self.base else 0
        self._remove_unreferenced()

    def _open_base(self, model: str, create: bool) -> IndexStore | None:
        """The committed generation, metadata only (vectors and BM25 are read if a merge
        needs them), or None for a new index."""
        try:
            base = IndexStore.open(
                self.index_dir, expected_model=model, reuse=self._segments_from(), eager=False
            )
        except IndexNotFoundError:
            if not create:
                raise IndexWriteError(_vanished(self.index_dir)) from None
            return None
        self._opened += [s for s in base.segments if s.name not in self._reuse]
        return base

    def _open_mirror(self, dense: DenseConfig, dimension: int) -> MilvusMirror:
        # The collection may differ from the committed generation: a writer died between its
        # Milvus writes, or the last commit was made without Milvus. The next commit re-syncs.
        base = self.base.manifest if self.base else None
        self._milvus_drifted = (self.index_dir / MILVUS_PENDING).exists() or (
            base is not None and base.milvus_generation != base.generation
        )
        collection = (base.milvus_collection if base else "") or self._pending_collection()
        try:
            mirror = open_mirror(dense, collection, dimension)
            # A collection made just now (dropped, or the server's data lost) holds none of the
            # committed rows: even a commit that changes nothing must upload them again.
            if mirror.store.created and base is not None and base.chunks:
                self._milvus_drifted |= mirror.count() != base.chunks
        except VectorStoreError as exc:
            raise IndexWriteError(f"{exc}; the committed index is unchanged") from exc
        return mirror

    def _pending_collection(self) -> str:
        """The collection of an index (or a first Milvus-mode commit) not yet committed. It is
        named in ``MILVUS_PENDING`` before it is created, so a writer killed before its commit
        leaves a name the next writer takes over (its rows are re-synced away, as after any
        interrupted commit): a fresh random name each time left every killed first run's
        collection on the server, named by no index."""
        from indexer.dense.milvus import is_collection_name, new_collection_name

        pending = self.index_dir / MILVUS_PENDING
        try:
            named = pending.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            named = ""
        if is_collection_name(named):
            return named
        collection = new_collection_name()
        draft = pending.with_name(pending.name + ".tmp")
        try:
            draft.write_text(collection, encoding="utf-8")
            os.replace(draft, pending)
        except OSError as exc:
            raise IndexWriteError(
                f"could not write to {self.index_dir}: {exc}; the committed index is unchanged"
            ) from exc
        return collection

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _segments_from(self) -> dict[str, Segment]:
        known = {seg.name: seg for seg in self._opened}
        return {**self._reuse, **known}

    def close(self) -> None:
        for seg in self._opened:
            seg.close()
        self._opened = []
        self.base = None
        if self._lock.is_locked:
            self._lock.release()

    # -- staging -----------------------------------------------------------------------------

    def add(self, data: SegmentData) -> None:
        """Write ``data`` as a new segment, to be listed by the next commit."""
        if not data.articles and not data.aliases:
            return
        try:
            self._new.append(write_segment(self.segments_dir, data))
        except (OSError, RuntimeError, sqlite3.Error) as exc:  # faiss raises RuntimeError
            raise IndexWriteError(
                f"could not write to {self.index_dir}: {exc}; the committed index is unchanged"
            ) from exc

    def delete(self, article_ids: Sequence[str]) -> list[str]:
        """Tombstone live articles (and aliases) by id; returns the ids that existed."""
        if self.base is None:
            return []
        done = []
        for article_id in article_ids:
            seg = self.base.article_segment.get(article_id)
            if seg is not None:
                self._deleted.setdefault(seg.name, set()).add(article_id)
                done.append(article_id)
                continue
            # A duplicate's id, if it still resolves: one already deleted, or whose article is
            # gone, stays in its segment's alias table but is no longer in the index.
            if self.base.aliases.get(article_id) is None:
                continue
            for seg in self.base.segments:
                if seg.aliases.get(article_id) is not None:
                    self._deleted.setdefault(seg.name, set()).add(article_id)
            done.append(article_id)
        return done

    def pending_deletes(self) -> set[str]:
        """Ids this writer has tombstoned and not yet committed."""
        return set().union(*self._deleted.values())

    # -- committing --------------------------------------------------------------------------

    def commit(self, source_hash: str = "") -> Manifest:
        """Make the staged segments and deletions the committed generation (then maybe merge).

        ``source_hash`` names the corpus the index now equals (eval reuses such an index);
        any other change leaves it empty."""
        base = self.base.manifest if self.base else None
        if base is not None and self._unchanged(source_hash):
            return base  # nothing staged: a write that changes nothing makes no generation
        deleted = {name: set(ids) for name, ids in (base.deleted if base else {}).items()}
        for name, ids in self._deleted.items():
            deleted.setdefault(name, set()).update(ids)
        segments = (base.segments if base else []) + self._new
        manifest = self._publish(segments, deleted, source_hash)
        self._new, self._deleted = [], {}
        if len(manifest.segments) > self.max_segments:
            try:
                manifest = self._merge(manifest)
            except IndexWriteError as exc:
                # The commit stands: a merge failing on a full disk raised "the committed
                # index is unchanged" for a write that was in, so a client retried it (a
                # delete then answered 404). The next commit tries the merge again.
                log.warning(
                    "generation %d committed; segments not merged: %s", manifest.generation, exc
                )
        return manifest

    def _unchanged(self, source_hash: str) -> bool:
        assert self.base is not None
        return (
            not self._new
            and not self._deleted
            and source_hash in ("", self.base.manifest.source_hash)
            and not (self.mirror is not None and self._milvus_drifted)
        )

    def _publish(
        self,
        segments: list[str],
        deleted: dict[str, set[str]],
        source_hash: str,
        mirror_rows: bool = True,
    ) -> Manifest:
        """Write the generation file and point ``CURRENT`` at it. With Milvus, the new rows
        are upserted first (a reader of this generation finds them) and the tombstoned ones
        deleted after (a reader of the previous one still found them); a merge changes no
        chunk key, so it sends Milvus nothing (``mirror_rows=False``)."""
        try:
            store = self._draft(segments, deleted)
            upserted = self._mirror_upserts(store) if mirror_rows else np.zeros(0, np.int64)
            manifest = self._next_manifest(store, source_hash, self._stories(store))
            self._write_generation(manifest)
        except OSError as exc:
            raise IndexWriteError(
                f"could not commit to {self.index_dir}: {exc}; the committed index is unchanged"
            ) from exc
        self._adopt(store, manifest)
        if mirror_rows:
            self._mirror_deletes(upserted)
        self._remove_unreferenced()
        return manifest

    def _draft(self, segments: list[str], deleted: dict[str, set[str]]) -> IndexStore:
        """The generation about to be committed, opened over its segments (already loaded
        ones reused) to count what it holds."""
        reuse = self._segments_from()
        draft = Manifest(
            format_version=FORMAT_VERSION,
            model=self.model,
            dimension=self.dimension,
            articles=0,
            chunks=0,
            duplicates=0,
            created_at="",
            deleted={k: sorted(v) for k, v in deleted.items() if v and k in segments},
        )
        return IndexStore(
            self.index_dir,
            draft,
            [reuse.get(name) or Segment(self.segments_dir / name) for name in segments],
        )

    def _stories(self, store: IndexStore) -> Stories:
        """The draft generation's stories: the base's, with this commit's new and changed
        articles placed and its deleted ones taken out (a merge moves articles, and changes
        no story)."""
        added = [a for a, seg in store.article_segment.items() if seg.name in self._new]
        if self.base is None:
            before: Stories = {}
        elif self.base.manifest.stories is not None:
            before = self.base.manifest.stories
        else:  # a generation written before stories were stored
            before = {}
            for article_id, story in self.base.stories.items():
                before.setdefault(story, []).append(article_id)
        ids, signatures = store.live_signatures()
        return update_stories(before, ids, signatures, added, store.text_of)

    def _next_manifest(self, store: IndexStore, source_hash: str, stories: Stories) -> Manifest:
        previous = self.base.manifest if self.base else None
        # Above every generation file present, not just the base: after CURRENT was set
        # back to an older generation, base + 1 may name a file that exists.
        generation = max([previous.generation if previous else 0, *self._generations()]) + 1
        if self.mirror is not None:
            collection, milvus_generation = self.mirror.collection, generation
        elif previous is not None:
            collection, milvus_generation = previous.milvus_collection, previous.milvus_generation
        else:
            collection, milvus_generation = "", 0
        return Manifest(
            format_version=FORMAT_VERSION,
            model=self.model,
            dimension=self.dimension,
            articles=len(store.article_segment),
            chunks=int(store.live.sum()),
            duplicates=len(store.aliases),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            source_hash=source_hash,
            generation=generation,
            segments=[seg.name for seg in store.segments],
            deleted=store.manifest.deleted,
            stories=stories,
            milvus_collection=collection,
            milvus_generation=milvus_generation,
        )

    def _write_generation(self, manifest: Manifest) -> None:
        """The generation file (linked into place: two writers can never both publish one
        number), then ``CURRENT`` pointing at it (renamed over the old pointer)."""
        name = generation_file(manifest.generation)
        write_atomically(self.index_dir, name, manifest.to_json(), replace=False)
        write_atomically(self.index_dir, CURRENT, name + "\n", replace=True)
        fsync_path(self.index_dir)

    def _adopt(self, store: IndexStore, manifest: Manifest) -> None:
        """Make the committed generation this writer's base (its segments stay open)."""
        known = {seg.name for seg in self._opened} | set(self._reuse)
        self._opened += [seg for seg in store.segments if seg.name not in known]
        self.base = IndexStore(self.index_dir, manifest, store.segments)

    def _generations(self) -> list[int]:
        return generation_numbers(self.index_dir)

    def _remove_unreferenced(self) -> None:
        """Tidy up after a commit. The commit stands whatever happens here: a directory moved
        or unmounted right after ``CURRENT`` was written raised FileNotFoundError, reported
        a committed generation as failed, and ``newsqa watch`` then took its folder for gone
        and started a new index where the old one had been."""
        try:
            remove_unreferenced(self.index_dir, self.segments_dir, self._keep_from, self._new)
        except OSError as exc:
            log.warning(
                "generation committed; old files not removed from %s: %s", self.index_dir, exc
            )

    def _merge(self, manifest: Manifest) -> Manifest:
        """Rewrite all segments but the largest (or all) as one, dropping deleted rows."""
        assert self.base is not None
        store = self.base
        merge = segments_to_merge(store)
        data = merged_segment(store, merge, self.dimension)
        self._new = []
        self.add(data)
        merged = [store.segments[i].name for i in merge]
        segments = [name for name in manifest.segments if name not in merged] + self._new
        deleted = {k: set(v) for k, v in manifest.deleted.items() if k not in merged}
        self._new = []
        return self._publish(segments, deleted, manifest.source_hash, mirror_rows=False)

    # -- the Milvus mirror -------------------------------------------------------------------

    def _mirror_upserts(self, store: IndexStore) -> np.ndarray:
        """Upsert the live rows of this commit's new segments into Milvus; their keys."""
        if self.mirror is None:
            return np.zeros(0, dtype=np.int64)
        keys = [np.zeros(0, dtype=np.int64)]
        try:
            (self.index_dir / MILVUS_PENDING).touch()
            for seg, live in zip(store.segments, store.lives):
                if seg.name in self._new:
                    rows = np.flatnonzero(live)
                    if len(rows):
                        self.mirror.upsert(seg.columns(rows))
                    keys.append(seg.keys[rows])
            self.mirror.count()  # barrier: readers of the new generation see these rows
        except VectorStoreError as exc:
            raise IndexWriteError(f"{exc}; the committed index is unchanged") from exc
        except OSError as exc:
            raise IndexWriteError(
                f"could not write to {self.index_dir}: {exc}; the committed index is unchanged"
            ) from exc
        return np.concatenate(keys)

    def _mirror_deletes(self, upserted: np.ndarray) -> None:
        """Delete from Milvus the rows this commit tombstoned (unless re-added with the same
        key), then repair any drift (a crash between upsert and publish, a FAISS-mode commit,
        rows lost by the server) with a full sync."""
        if self.mirror is None or self.base is None:
            return
        generation = self.base
        by_name = generation.segment_map()
        gone = [by_name[name].keys_of(sorted(ids)) for name, ids in self._deleted.items()]
        try:
            if gone:
                self.mirror.delete_keys(np.setdiff1d(np.concatenate(gone), upserted))
            if self._milvus_drifted or self.mirror.count() != generation.manifest.chunks:
                added, removed = self.mirror.sync(list(zip(generation.segments, generation.lives)))
                log.warning(
                    "Milvus collection %s re-synced with generation %d: %d chunks upserted, "
                    "%d deleted",
                    self.mirror.collection,
                    generation.manifest.generation,
                    added,
                    removed,
                )
            self._milvus_drifted = False
            (self.index_dir / MILVUS_PENDING).unlink(missing_ok=True)
        except (VectorStoreError, OSError) as exc:  # committed; readers ignore extra rows
            self._milvus_drifted = True
            log.warning("generation committed, Milvus not fully updated: %s", exc)


def lock_index(index_dir: Path, timeout: float = 0.0) -> FileLock:
    """The writer lock of the committed index in ``index_dir``, held (release it when done):
    for a writer that has work to do under the lock before its ``IndexWriter`` can exist (the
    service's write worker loads its model). Waits ``timeout`` seconds for another writer,
    then ``IndexBusyError``; a directory with no committed index is refused as
    ``IndexWriter(create=False)`` refuses it (taking the lock would make the folder again)."""
    if not (index_dir / CURRENT).is_file():
        raise IndexWriteError(_vanished(index_dir))
    return _acquire(index_dir, timeout)


def _acquire(index_dir: Path, timeout: float, lock: FileLock | None = None) -> FileLock:
    lock = lock or FileLock(str(index_dir / LOCK))
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise IndexBusyError(
            f"index {index_dir} is being written by another process (lock "
            f"{index_dir / LOCK}); try again when it is done"
        ) from None
    except OSError as exc:  # a read-only mount or folder: the lock file cannot be opened
        # An HTTP write answered a bare 500 (and a bulk job "internal error: OSError").
        raise IndexWriteError(
            f"cannot write to {index_dir}: {exc}; the committed index is unchanged"
        ) from exc
    return lock


def _vanished(index_dir: Path) -> str:
    return (
        f"no committed index in {index_dir} (was the directory or its CURRENT file removed?): "
        "refusing to start a new index in its place; rebuild it with `newsqa index`"
    )
