"""Bulk write jobs: a large batch is accepted at once (202) and written in the background.

A newsroom's CMS loads thousands of articles in one request; embedding them takes minutes,
longer than a client should hold a request open. ``POST /articles/bulk`` parses the batch,
queues it as a ``Job`` and answers with the job's id; one runner thread writes the queued jobs
in order, each as one generation, through the same write worker as every other HTTP write
(``LiveIndex.write``), and ``GET /jobs/{id}`` reports its progress and, when it is done, what
became of each item.

Jobs live in this process's memory (the last ``KEEP`` of them): a restart forgets them, and a
job cut short by it wrote nothing (the writer commits all of a batch or none of it), so the
client sends it again.
"""

from __future__ import annotations

import logging
import queue
import shutil
import tempfile
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from indexer.documents import Article
from indexer.pipeline import IndexReport
from newsqa.errors import NewsqaError
from service.live_index import LiveIndex
from service.write_worker import ProgressFile

log = logging.getLogger(__name__)

KEEP = 200
State = Literal["queued", "running", "done", "failed"]


@dataclass
class Item:
    """What became of one record of the batch."""

    id: str | None
    result: Literal["added", "updated", "unchanged", "duplicate", "rejected"]
    reason: str | None = None  # why it was rejected
    duplicate_of: str | None = None  # the live article a duplicate resolves to


@dataclass
class Job:
    id: str
    articles: list[Article]
    rejected: list[tuple[int, Item]]  # (position in the batch, item)
    order: list[str | None]  # the id of each record, in the batch's order (None: no id)
    state: State = "queued"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: dict[str, dict[str, float | None]] = field(default_factory=dict)
    report: IndexReport | None = None
    error: str | None = None

    def items(self) -> list[Item]:
        """Every record's fate in the batch's order (once the job is done)."""
        if self.report is None:
            return [item for _, item in self.rejected]
        rejected = dict(self.rejected)
        out = []
        for position, article_id in enumerate(self.order):
            if position in rejected:
                out.append(rejected[position])
            elif article_id in self.report.duplicates:
                out.append(
                    Item(article_id, "duplicate", duplicate_of=self.report.duplicates[article_id])
                )
            else:
                out.append(Item(article_id, self.report.outcomes[article_id]))  # type: ignore[arg-type]
        return out


class JobRunner:
    """Queued bulk jobs, written one after another by one thread."""

    def __init__(self, live: LiveIndex) -> None:
        self.live = live
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._dir = Path(tempfile.mkdtemp(prefix="newsqa-jobs-"))
        self._thread = threading.Thread(target=self._run, name="newsqa-bulk-jobs", daemon=True)
        self._thread.start()

    def submit(
        self, articles: list[Article], rejected: list[tuple[int, Item]], order: list[str | None]
    ) -> Job:
        job = Job(id=uuid.uuid4().hex, articles=articles, rejected=rejected, order=order)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP:  # forget the oldest finished job
                oldest = next((j for j in self._jobs.values() if j.finished_at), None)
                if oldest is None:
                    break
                del self._jobs[oldest.id]
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None and job.state == "running":
            job.progress = ProgressFile.read(self._progress_path(job))
        return job

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
        shutil.rmtree(self._dir, ignore_errors=True)

    def _progress_path(self, job: Job) -> Path:
        return self._dir / f"{job.id}.json"

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            job.state, job.started_at = "running", datetime.now(UTC)
            path = self._progress_path(job)
            try:
                if job.articles:
                    job.report = self.live.write(upsert=job.articles, progress_path=path)
                else:
                    job.report = IndexReport()
                job.state = "done"
            except NewsqaError as exc:
                job.error, job.state = str(exc), "failed"
            except Exception as exc:  # a job must end, whatever broke: say what it was
                log.exception("bulk job %s failed", job.id)
                job.error, job.state = f"internal error: {type(exc).__name__}: {exc}", "failed"
            finally:
                job.progress = ProgressFile.read(path)
                path.unlink(missing_ok=True)
                job.articles = []  # the texts are written (or not): free them
                job.finished_at = datetime.now(UTC)
