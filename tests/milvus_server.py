"""A real Milvus 2.3.5 standalone server for tests (PyPI package ``milvus``: ``milvus-server``).

``milvus_server(data_dir)`` starts ``milvus-server --data DIR`` on free ports with every
component registered on 127.0.0.1, waits until ``/healthz`` answers OK, yields the server's
URI (``http://127.0.0.1:<proxy port>``) and stops it on exit.

What the wrapper does, and what this harness does about it:

- ``milvus-server`` is a Python launcher that unpacks the real ``milvus`` binary into
  ``DIR/bin`` and runs ``milvus run standalone`` as its child. SIGINT makes the launcher stop
  the child and exit; SIGTERM kills only the launcher and orphans the binary. So: SIGINT to
  the launcher's PID, then make sure no process of ours (the launcher's descendants, found by
  a ``/proc`` scan, taken before the stop) is left; a straggler gets SIGKILL and fails the
  check.
- Each component registers "the first unicastable address" (the machine's LAN address) unless
  ``<component>.ip`` is set: ``--extra-config <component>.ip=127.0.0.1`` for all seven keeps
  the traffic between them on loopback.
- Ports: each ``--*-port`` option is a starting point (the launcher probes upwards from it
  on 127.0.0.1), so free ports are picked here and passed explicitly. The embedded etcd
  ignores ``--etcd-port`` and listens on 127.0.0.1:2379 and :2380 (so a second server, or
  anything else on 2379, would collide): an etcd config file (``ETCD_CONFIG_PATH``, read by
  the binary from its environment) moves it to free loopback ports. The health port
  (METRICS_PORT, ``/healthz``) has no option: the launcher takes the first free port from
  9091 and hands it to the binary in its environment, where this harness reads it
  (``/proc/<pid>/environ``).
- Start-up: the launcher unpacks ~250 MB of binaries into ``DIR/bin`` (about 4 s) unless
  they are there with matching checksums; ``bin_cache`` keeps one unpacked copy and
  hard-links (or copies) it into each new ``DIR/bin``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")
PORT_OPTIONS = (
    "--etcd-port",
    "--root-coord-port",
    "--proxy-port",
    "--proxy-internal-port",
    "--query-coord-port",
    "--query-node-port",
    "--index-coord-port",
    "--index-node-port",
    "--data-coord-port",
    "--data-node-port",
)
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0


def milvus_server_executable() -> str | None:
    """The ``milvus-server`` launcher of this interpreter's environment, or on PATH."""
    here = Path(sys.executable).parent / "milvus-server"
    return str(here) if here.is_file() else shutil.which("milvus-server")


def _port_range() -> range | None:
    """``NEWSQA_TEST_PORTS=LOW-HIGH``: the ports this run may use, where several test runs
    share one machine and each keeps to its own block; unset, any free port."""
    spec = os.environ.get("NEWSQA_TEST_PORTS", "").strip()
    if not spec:
        return None
    low, _, high = spec.partition("-")
    return range(int(low), int(high or low) + 1)


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports (held open together so that none repeats)."""
    allowed = _port_range()
    candidates = iter(allowed if allowed is not None else [0] * n)
    socks: list[socket.socket] = []
    try:
        while len(socks) < n:
            port = next(candidates, None)
            if port is None:
                raise RuntimeError(f"fewer than {n} free ports in NEWSQA_TEST_PORTS={allowed}")
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _children() -> dict[int, list[int]]:
    """Parent PID -> child PIDs, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields follow the last ')'
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def descendants(pid: int) -> list[int]:
    """All live descendants of ``pid``."""
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def _health_port(launcher: int) -> int | None:
    """The binary's METRICS_PORT (serves /healthz), once the launcher has started it."""
    for pid in descendants(launcher):
        port = _environ(pid).get("METRICS_PORT")
        if port:
            return int(port)
    return None


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
            return resp.status == 200 and b"OK" in resp.read()
    except (OSError, urllib.error.URLError):
        return False


class MilvusServer:
    """One ``milvus-server`` process tree; ``start()`` then ``stop()`` (or use ``milvus_server``)."""

    def __init__(
        self, data_dir: Path, executable: str | None = None, bin_cache: Path | None = None
    ) -> None:
        self.data_dir = Path(data_dir)
        self.bin_cache = bin_cache
        self.executable = executable or milvus_server_executable()
        if self.executable is None:
            raise FileNotFoundError("milvus-server not found: pip install -e '.[milvus]'")
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None  # the proxy's gRPC port: what clients connect to
        self.health_port: int | None = None
        self.start_seconds: float | None = None
        self.leftover: list[int] = []  # processes that outlived the stop (killed, then listed)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def command(self) -> list[str]:
        ports = _free_ports(len(PORT_OPTIONS) + 1)
        peer_port = ports.pop()
        self.port = ports[PORT_OPTIONS.index("--proxy-port")]
        self._write_etcd_config(ports[PORT_OPTIONS.index("--etcd-port")], peer_port)
        cmd = [self.executable, "--data", str(self.data_dir)]
        for option, port in zip(PORT_OPTIONS, ports):
            cmd += [option, str(port)]
        for component in COMPONENTS:
            cmd += ["--extra-config", f"{component}.ip=127.0.0.1"]
        return cmd

    @property
    def etcd_config(self) -> Path:
        return self.data_dir / "etcd.yaml"

    def _write_etcd_config(self, client_port: int, peer_port: int) -> None:
        client, peer = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
        (self.log_dir).mkdir(parents=True, exist_ok=True)
        self.etcd_config.write_text(
            f"name: default\n"
            f"listen-client-urls: {client}\n"
            f"advertise-client-urls: {client}\n"
            f"listen-peer-urls: {peer}\n"
            f"initial-advertise-peer-urls: {peer}\n"
            f"initial-cluster: default={peer}\n"
            f"logger: zap\n"
            f"log-level: warn\n"
            f"log-outputs: [{self.log_dir / 'etcd.log'}]\n"
        )

    def _seed_binaries(self) -> None:
        """Unpack the binaries once into ``bin_cache`` and link them into ``DIR/bin``; the
        launcher then finds their checksums current and skips its own unpacking."""
        if self.bin_cache is None:
            return
        try:
            from milvus import _initialize_data_files  # the launcher's own unpacker
        except ImportError:
            return
        _initialize_data_files(str(self.bin_cache))  # writes bin_cache/bin; no-op when current
        target = self.data_dir / "bin"
        target.mkdir(parents=True, exist_ok=True)
        for file in (self.bin_cache / "bin").iterdir():
            dest = target / file.name
            if dest.exists():
                continue
            try:
                os.link(file, dest)
            except OSError:
                shutil.copy2(file, dest)

    def start(self, timeout: float = START_TIMEOUT) -> MilvusServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._seed_binaries()
        command = self.command()
        env = {**os.environ, "ETCD_CONFIG_PATH": str(self.etcd_config)}
        started = time.monotonic()
        with open(self.data_dir / "launcher.log", "wb") as log:
            self.proc = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                # A job a shell starts in the background (`make test &`, some CI runners)
                # ignores SIGINT, and an ignored signal stays ignored across exec: the stop
                # signal would never arrive. Give the launcher SIGINT's default back.
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"milvus-server exited with {self.proc.returncode} during start-up; "
                        f"logs in {self.log_dir} and {self.data_dir / 'launcher.log'}"
                    )
                if self.health_port is None:
                    self.health_port = _health_port(self.proc.pid)
                if self.health_port is not None and _healthy(self.health_port):
                    break
                if time.monotonic() - started > timeout:
                    raise TimeoutError(f"milvus not healthy after {timeout:.0f} s ({self.log_dir})")
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> list[int]:
        """SIGINT to the launcher (which stops the binary), wait, then check that nothing of
        the tree is left; stragglers are killed and returned (empty list: a clean stop)."""
        if self.proc is None:
            return self.leftover
        tree = descendants(self.proc.pid)
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        deadline = time.monotonic() + timeout
        while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.leftover = [pid for pid in tree if alive(pid)]
        for pid in self.leftover:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc = None
        return self.leftover


@contextlib.contextmanager
def milvus_server(data_dir: Path, bin_cache: Path | None = None) -> Iterator[MilvusServer]:
    """A running server for the ``with`` block; fails if any of its processes outlives it."""
    server = MilvusServer(data_dir, bin_cache=bin_cache).start()
    try:
        yield server
    finally:
        leftover = server.stop()
        assert not leftover, f"milvus processes left after SIGINT (killed): {leftover}"


if __name__ == "__main__":  # manual check: python tests/milvus_server.py [DIR]
    import tempfile

    base = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="milvus-"))
    with milvus_server(base) as srv:
        print(f"healthy in {srv.start_seconds:.1f} s at {srv.uri} (health :{srv.health_port})")
        print("processes:", [srv.proc.pid, *descendants(srv.proc.pid)] if srv.proc else [])
    print("stopped, no process left")
