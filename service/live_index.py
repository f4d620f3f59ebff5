"""The service's view of the index directory, kept current while it answers.

A request takes the components once (``LiveIndex.components``) and uses them to the end, so it
answers wholly from one committed generation. A background thread watches ``CURRENT``; when a
writer (``newsqa index``, ``newsqa watch`` or this service's own write endpoints) commits a new
generation, the new state is opened beside the old one, reusing every segment already loaded,
and swapped in with one reference assignment. A generation that fails to open is refused and
the old one keeps serving.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from indexer.documents import Article
from indexer.pipeline import IndexReport
from indexer.store import Committed, IndexStore, committed, read_manifest
from newsqa.errors import NewsqaError
from newsqa.settings import Settings, get_settings
from service.index_open import dense_config
from service.write_worker import WriteWorker

log = logging.getLogger(__name__)
T = TypeVar("T")


class LiveIndex:
    """Current components of an index directory, reloaded on commit.

    ``build(store)`` turns an opened generation into the service's components (retriever,
    answerer); ``on_swap(components)`` is told about each new state.
    """

    def __init__(
        self,
        store: IndexStore,
        build: Callable[[IndexStore], T],
        on_swap: Callable[[T], None] = lambda _: None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self._build = build
        self._on_swap = on_swap
        self._worker = WriteWorker(self.settings)
        self.store = store
        self.components = build(store)
        # What the served generation was opened from (not CURRENT read now: a commit landing
        # between the open and that read was taken as served, and never swapped in).
        self._committed = store.committed
        self._reload_lock = threading.Lock()
        self._refused: str | None = None  # why the committed generation was last refused
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        on_swap(self.components)

    def behind(self) -> bool:
        """Whether ``CURRENT`` names another generation than the one served: a read of one
        small file, cheap enough to make before a request."""
        try:
            return committed(self.store.path) != self._committed
        except NewsqaError:
            return False  # reload says why, on its next poll

    def reload(self) -> bool:
        """Swap to the committed generation if it is new; False when unchanged or refused."""
        with self._reload_lock:
            old = self.store
            try:
                now = committed(old.path)
                if now is not None and now != self._committed and self._same_as_served(now):
                    self._committed = now  # CURRENT rewritten with the served name and content
                if now is None or now == self._committed:
                    if now is not None:
                        self._refused = None  # CURRENT is back: a new refusal is news again
                    return False
                store = IndexStore.open(
                    old.path,
                    expected_model=old.manifest.model,
                    reuse=old.segment_map(),
                    dense=dense_config(self.settings),
                )
            except NewsqaError as exc:
                # Once per refusal: the poll retries every NEWSQA_RELOAD_INTERVAL (0.5 s), and
                # logged the same ERROR line each time, 7,200 an hour for as long as CURRENT
                # named a generation that does not open, burying every other line.
                reason = f"index reload refused, still serving {self._serving}: {exc}"
                log.log(logging.DEBUG if reason == self._refused else logging.ERROR, reason)
                self._refused = reason
                return False
            if self._refused is not None:
                log.info("index reload no longer refused: %s opened", now.name)
                self._refused = None
            self.store = store
            self.components = self._build(store)
            self._committed = store.committed
            self._on_swap(self.components)
            log.info(
                "serving %s: %d articles, %d chunks",
                self._serving,
                store.manifest.articles,
                store.manifest.chunks,
            )
            return True

    def _same_as_served(self, now: Committed) -> bool:
        """Whether ``now`` names the served generation's own file, unchanged: an operator who
        wrote the served name back into ``CURRENT`` changed nothing to reload. The same name in
        a directory built again, or swapped for another, is a new generation (its creation
        time and segments differ), and is opened."""
        if self._committed is None or now.name != self._committed.name:
            return False
        try:
            return read_manifest(self.store.path, now) == self.store.manifest
        except NewsqaError:
            return False

    @property
    def _serving(self) -> str | None:
        return None if self._committed is None else self._committed.name

    def write(
        self,
        upsert: Sequence[Article] = (),
        delete: Sequence[str] = (),
        progress_path: Path | None = None,
        queued: bool = False,
        missing_ok: bool = False,
    ) -> IndexReport:
        """Add or replace ``upsert`` and remove ``delete`` in one generation, in the write
        worker process (``service.write_worker``), then serve the result at once (a written
        article is answerable, a deleted one gone, when this returns). Behind another write
        of this server it waits ``NEWSQA_WRITE_LOCK_TIMEOUT``, as for another process's;
        ``queued`` (a bulk job, whose client is not waiting) waits its turn; ``missing_ok``
        lists ids to delete that are not there in the report instead of failing
        (``indexer.pipeline.write_articles``)."""
        wait = None if queued else self.settings.write_lock_timeout
        report = self._worker.write(
            self.store.path, upsert, delete, progress_path, wait, missing_ok
        )
        self.reload()
        return report

    def start(self, interval: float) -> None:
        """Poll ``CURRENT`` every ``interval`` seconds in a daemon thread."""

        def poll() -> None:
            while not self._stop.wait(interval):
                self.reload()

        self._thread = threading.Thread(target=poll, name="newsqa-index-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._worker.close()
