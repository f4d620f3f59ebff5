"""Bulk write jobs: a large batch is accepted at once (202) and written in the background.

A newsroom's CMS loads thousands of articles in one request; embedding them takes minutes,
longer than a client should hold a request open. ``POST /articles/bulk`` parses the batch,
queues it as a ``Job`` and answers with the job's id; one runner thread writes the queued jobs
in order, each as one generation, through the same write worker as every other HTTP write
(``LiveIndex.write``), and ``GET /jobs/{id}`` reports its progress and, when it is done, what
became of each item.

Each job's state is also written to ``INDEX_DIR/.jobs/<id>.json`` as it changes (the last
``KEEP`` jobs are kept), so that every server process (``newsqa serve --workers``) answers for
every job, and a finished job's results outlive a restart. A job whose process stopped before
it finished is reported as failed: its batch was committed in full or not at all (the writer
commits a generation whole), so the client looks its ids up or sends it again.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from indexer.documents import Article
from indexer.pipeline import IndexReport
from newsqa.errors import NewsqaError
from service import schemas
from service.live_index import LiveIndex
from service.write_worker import ProgressFile

log = logging.getLogger(__name__)

KEEP = 200
JOBS_DIR = ".jobs"
STALE_TMP_SECONDS = 60.0
State = Literal["queued", "running", "done", "failed"]


@dataclass
class Item:
    """What became of one record of the batch."""

    id: str | None
    result: Literal["added", "updated", "unchanged", "duplicate", "rejected", "failed"]
    reason: str | None = None  # why it was rejected, or why the job failed
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
        """Every record's fate in the batch's order, once the job is done or failed (then
        each record that was not rejected is "failed", with the job's error: nothing of the
        batch was written)."""
        rejected = dict(self.rejected)
        out = []
        for position, article_id in enumerate(self.order):
            if position in rejected:
                out.append(rejected[position])
            elif self.report is None:
                out.append(Item(article_id, "failed", reason=self.error))
            elif article_id in self.report.duplicates:
                out.append(
                    Item(article_id, "duplicate", duplicate_of=self.report.duplicates[article_id])
                )
            else:
                out.append(Item(article_id, self.report.outcomes[article_id]))  # type: ignore[arg-type]
        return out


class JobRunner:
    """Queued bulk jobs, written one after another by one thread; their state on disk."""

    def __init__(self, live: LiveIndex) -> None:
        self.live = live
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._dir = live.store.path / JOBS_DIR
        try:
            self._dir.mkdir(exist_ok=True)
        except OSError as exc:  # a read-only index: jobs stay visible to this process only
            self._dir = Path(tempfile.mkdtemp(prefix="newsqa-jobs-"))
            log.warning(
                "cannot keep bulk jobs in %s (%s): using %s", live.store.path, exc, self._dir
            )
        self._prune()  # what a killed server left: at start, not only at the next job
        self._thread = threading.Thread(target=self._run, name="newsqa-bulk-jobs", daemon=True)
        self._thread.start()

    def submit(
        self, articles: list[Article], rejected: list[tuple[int, Item]], order: list[str | None]
    ) -> schemas.JobOut:
        job = Job(id=uuid.uuid4().hex, articles=articles, rejected=rejected, order=order)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP:  # forget the oldest finished job
                oldest = next((j for j in self._jobs.values() if j.finished_at), None)
                if oldest is None:
                    break
                del self._jobs[oldest.id]
        out = self._save(job)
        self._prune()
        self._queue.put(job)
        return out

    def get(self, job_id: str) -> schemas.JobOut | None:
        """The job's state: from memory when this process runs it, else from its file."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None:
            if job.state == "running":
                job.progress = ProgressFile.read(self._path(job.id, "progress"))
            return job_out(job)
        try:
            saved = _Saved.model_validate_json(self._path(job_id).read_text())
        except (OSError, ValueError):
            return None
        out = saved.job
        if out.state in ("queued", "running"):
            progress_path = self._path(job_id, "progress")
            progress = ProgressFile.read(progress_path)
            update: dict[str, object] = {"progress": _progress(progress)} if progress else {}
            if not _alive(saved):
                # How far it got and when it was last seen: it read "chunks_embedded: 0,
                # finished_at: null" although its progress file said 256 chunks embedded.
                # A queued job of a killed process never started: nothing of it was written.
                # It read as cut short while running, "committed whole or not at all: look
                # its ids up", sending its client to check ids the job never wrote.
                error = NOT_STARTED if out.state == "queued" else STOPPED
                update |= {"state": "failed", "error": error}
                update["finished_at"] = _last_seen(self._path(job_id), progress_path)
            return out.model_copy(update=update)
        return out

    def close(self) -> None:
        """A server stopping starts no queued job: each fails, saying so. The stop marker used
        to wait behind them, so a SIGTERM ran the whole queue first (minutes, while serving
        nothing) or was cut short by the supervisor's SIGKILL."""
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.error, job.state = NOT_STARTED, "failed"
                job.articles, job.finished_at = [], datetime.now(UTC)
                self._save(job)
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _path(self, job_id: str, kind: str = "job") -> Path:
        if not job_id.isalnum():  # ids are uuid hex; anything else names no file
            return self._dir / "-"
        return self._dir / (f"{job_id}.json" if kind == "job" else f"{job_id}.{kind}.json")

    def _save(self, job: Job) -> schemas.JobOut:
        out = job_out(job)
        path = self._path(job.id)
        tmp = path.with_suffix(".tmp")
        try:
            pid = os.getpid()
            saved = _Saved(pid=pid, host=socket.gethostname(), started=_started(pid), job=out)
            tmp.write_text(saved.model_dump_json())
            os.replace(tmp, path)
        except OSError as exc:  # the job runs all the same; only other processes lose sight
            log.warning("cannot save bulk job %s: %s", job.id, exc)
        return out

    def _prune(self) -> None:
        """Keep the files of the last ``KEEP`` jobs. A file listed may be gone by the time it
        is looked at (the job thread removes a finished job's progress file, another server
        process prunes too): that is no error of the request that prunes."""
        dated: list[tuple[float, Path]] = []
        for path in self._dir.glob("*.json"):
            if path.name.count(".") != 1:  # "<id>.progress.json": the job thread's own
                continue
            try:
                dated.append((path.stat().st_mtime, path))
            except FileNotFoundError:
                continue
        for _, path in sorted(dated, reverse=True)[KEEP:]:
            path.unlink(missing_ok=True)
        # the progress file of a job whose process was killed outlives it: it goes with its job
        for path in self._dir.glob("*.progress.json"):
            if not self._path(path.name.split(".")[0]).exists():
                path.unlink(missing_ok=True)
        # a file saved half-way (a process killed between writing it and renaming it into
        # place) is never read and was never removed; a live one is milliseconds old
        for path in self._dir.glob("*.tmp"):
            try:
                if time.time() - path.stat().st_mtime > STALE_TMP_SECONDS:
                    path.unlink(missing_ok=True)
            except FileNotFoundError:
                continue

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            job.state, job.started_at = "running", datetime.now(UTC)
            self._save(job)
            log.info("bulk job %s started: %d articles", job.id, len(job.articles))
            path = self._path(job.id, "progress")
            try:
                if job.articles:
                    job.report = self.live.write(
                        upsert=job.articles, progress_path=path, queued=True
                    )
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
                self._save(job)
                _log_end(job)


def _log_end(job: Job) -> None:
    """One line per finished job, so an operator's log shows what bulk writes did (a job left
    no line when it started or ended, only its state in ``/jobs/{id}``)."""
    if job.report is None:
        log.warning("bulk job %s failed: %s", job.id, job.error)
        return
    r = job.report
    log.info(
        "bulk job %s done: %d added, %d updated, %d unchanged, %d rejected, %d chunks embedded",
        job.id, r.added, r.updated, r.unchanged, len(job.rejected), r.chunks,
    )  # fmt: skip


NOT_STARTED = "the server stopped before this job started; nothing of it was written: send it again"
STOPPED = (
    "the server process running this job stopped before it finished; the batch was committed "
    "whole or not at all: look its ids up (GET /articles/{id}) or send it again"
)


class _Saved(BaseModel):
    pid: int
    host: str = ""
    started: str = ""  # the process's start time (``_started``): a pid alone is reused
    job: schemas.JobOut


def _started(pid: int) -> str:
    """When process ``pid`` started (clock ticks after boot, /proc/PID/stat field 22); ""
    where that cannot be read."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _alive(saved: _Saved) -> bool:
    """Whether the process that saved a queued or running job still runs it. In a container
    the server is PID 1 after every restart, so the pid alone said a job cut short by a
    restart was running for good: the process must also have started when the saving one
    did. A job saved on another host (a replica sharing the volume) cannot be checked from
    here: it keeps its state."""
    if saved.host and saved.host != socket.gethostname():
        return True
    try:
        os.kill(saved.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not saved.started or _started(saved.pid) in ("", saved.started)


def _last_seen(*paths: Path) -> datetime | None:
    """When the newest of ``paths`` (a job's file, its progress file) was last written: the
    last sign of life of a process that stopped without saying so."""
    times = []
    for path in paths:
        try:
            times.append(path.stat().st_mtime)
        except OSError:
            continue
    return datetime.fromtimestamp(max(times), UTC) if times else None


def _progress(progress: dict[str, dict[str, float | None]]) -> schemas.JobProgress:
    embedded = progress.get("chunks embedded", {})
    total = embedded.get("total")
    return schemas.JobProgress(
        chunks_total=int(total) if total is not None else None,
        chunks_embedded=int(embedded.get("completed") or 0),
    )


def job_out(job: Job) -> schemas.JobOut:
    finished = job.state in ("done", "failed")
    result = None
    if job.report is not None and job.report.manifest is not None:
        result = schemas.WriteResult.of(job.report)
    return schemas.JobOut(
        id=job.id,
        state=job.state,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        records=len(job.order),
        articles_read=len(job.order) - len(job.rejected),
        rejected=len(job.rejected),
        progress=_progress(job.progress),
        result=result,
        error=job.error,
        items=[schemas.JobItem(**item.__dict__) for item in job.items()] if finished else None,
    )
