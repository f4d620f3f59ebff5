"""What every benchmark section shares: paths, the model, machine facts, timing helpers and
the real server on loopback."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
DETIK = SHARED / "news" / "detik-2025.jsonl"
FACQA = SHARED / "news" / "facqa-passages.jsonl"
FACQA_VALID = SHARED / "eval" / "facqa-valid.jsonl"
QUESTIONS = REPO / "eval" / "questions" / "corpus.jsonl"


def log(message: str) -> None:
    """Progress on stderr, so stdout carries only the tables."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@lru_cache
def model_path() -> str:
    """The bundled model's sentence-transformers folder (built once, cached)."""
    from indexer.embedder import resolve_model
    from newsqa.settings import get_settings

    settings = get_settings()
    return resolve_model(settings.embed_model, settings.cache_dir)


def embedder(precision: str = "auto", batch_size: int | None = None, cache_size: int = 0):  # type: ignore[no-untyped-def]
    """An ``Embedder`` as the product builds it, by default without its query cache (a
    benchmark that repeats questions would otherwise measure the cache)."""
    from indexer.embedder import Embedder
    from newsqa.settings import get_settings

    settings = get_settings()
    return Embedder(
        model_path(),
        batch_size=batch_size or settings.embed_batch_size,
        precision=precision,  # type: ignore[arg-type]
        name=settings.embed_model,
        cache_size=cache_size,
    )


def machine() -> dict:
    """Facts that decide the absolute numbers (the ratios should not depend on them)."""
    import faiss
    import torch

    from indexer.embedder import cpu_supports_bf16
    from newsqa.settings import get_settings

    info = cpuinfo()
    settings = get_settings()
    commit = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    return {
        "cpu": info.get("model name") or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "bf16_instructions": cpu_supports_bf16(),
        "amx": "amx_bf16" in info.get("flags", "").split(),
        "memory_gib": round(_meminfo("MemTotal") / 2**20, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "faiss": faiss.__version__,
        "python": platform.python_version(),
        "embed_precision": settings.embed_precision,
        "embed_batch_size": settings.embed_batch_size,
        "commit": commit,
    }


def cpuinfo() -> dict[str, str]:
    """The first processor's fields in /proc/cpuinfo, with the highest ``cpu MHz`` any
    processor reports (empty where there is no /proc/cpuinfo)."""
    fields: dict[str, str] = {}
    mhz = 0.0
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "cpu MHz":
                mhz = max(mhz, float(value))
            fields.setdefault(key, value)
    if mhz:
        fields["cpu MHz"] = str(mhz)
    return fields


def _meminfo(key: str) -> int:
    """A /proc/meminfo value in KiB (0 when unknown)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rss_mib(pid: int | None = None, peak: bool = False) -> float:
    """Resident memory of a process (``peak``: its high-water mark) in MiB."""
    key = "VmHWM" if peak else "VmRSS"
    path = Path(f"/proc/{pid or os.getpid()}/status")
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> dict[str, float]:
    """High-water marks of this process and of its finished children (the servers)."""
    return {
        "bench_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
        "children": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 0),
    }


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else 0.0


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def accumulating(fn: Callable, spent: dict[str, float], label: str) -> Callable:
    """``fn`` that adds the seconds each call takes to ``spent[label]``."""

    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - started

    return wrapper


def best_of(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each function, run in turn ``repeats`` times, each round in the opposite
    order to the last (A B, B A, ...), so that drift in the machine's load hits every side
    alike; callers take the minimum (the run least disturbed by other jobs)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for round_ in range(repeats):
        for name in names if round_ % 2 == 0 else reversed(names):
            times[name].append(timed(fns[name]))
    return times


def paired_ratio(times: dict[str, list[float]], num: str, den: str) -> tuple[float, list[float]]:
    """Median over rounds of ``times[num][i] / times[den][i]``: each round's two runs are
    back to back, so a burst of load elsewhere hits a pair, not one side of the median."""
    ratios = [a / b for a, b in zip(times[num], times[den])]
    return float(np.median(ratios)), [round(r, 3) for r in ratios]


SERVER_ENV = {
    # Every client here is 127.0.0.1: the limits would measure themselves, not the service.
    "NEWSQA_RATE_LIMIT_PER_MINUTE": "0",
    "NEWSQA_MAX_IN_FLIGHT": "0",
    # Repeated benchmark questions would otherwise be answered from the query cache.
    "NEWSQA_EMBED_CACHE_SIZE": "0",
}


@contextlib.contextmanager
def running_server(index_dir: Path, timeout: float = 600, **env_extra: str) -> Iterator[tuple]:
    """The real `newsqa serve` over ``index_dir`` on loopback with the rate limit, the
    in-flight bound and the vector cache off; yields ``(url, pid)``."""
    from newsqa.server_process import serve_in_background

    with serve_in_background(
        index_dir, {**SERVER_ENV, **env_extra}, log_path=Path(os.devnull), startup_timeout=timeout
    ) as server:
        yield server.url, server.proc.pid
