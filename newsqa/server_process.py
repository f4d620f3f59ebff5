"""`newsqa serve` as a child process on a free loopback port: for tests and benchmarks.

Started with the current interpreter, waited for until ``/ready`` answers, and stopped by PID
(SIGTERM, then SIGKILL after 30 s), so nothing outlives the caller.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class ServerProcess:
    url: str
    proc: subprocess.Popen
    log_path: Path | None

    def rss_kib(self) -> int:
        """Resident memory of the server (VmRSS in /proc/<pid>/status)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for process {self.proc.pid}")


@contextlib.contextmanager
def serve_in_background(
    index_dir: Path,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    startup_timeout: float = 180.0,
) -> Iterator[ServerProcess]:
    """Run `newsqa serve --index-dir INDEX_DIR` on 127.0.0.1 until the block ends.

    ``env`` adds variables (``NEWSQA_*`` settings) to this process's environment; with
    ``log_path`` the server's output goes to that file instead of this process's.
    """
    port = free_port()
    command = [sys.executable, "-m", "newsqa", "serve", "--index-dir", str(index_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(log_path, "wb")) if log_path else None
        proc = subprocess.Popen(
            command,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
        )
    server = ServerProcess(f"http://127.0.0.1:{port}", proc, log_path)
    deadline = time.monotonic() + startup_timeout
    try:
        # One client for all the polls: each new one builds an SSL context, 31 ms of CPU
        # that the starting server (and a test beside it) would otherwise lose every 0.2 s.
        with httpx.Client(timeout=2) as client:
            while True:
                if proc.poll() is not None:
                    tail = log_path.read_text()[-2000:] if log_path else ""
                    raise RuntimeError(
                        f"server exited during start-up (code {proc.returncode}) {tail}"
                    )
                try:
                    if client.get(f"{server.url}/ready").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server not ready after {startup_timeout:.0f} s")
                time.sleep(0.2)
        yield server
    finally:
        if proc.poll() is None:  # one that exited during start-up is reaped already
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
