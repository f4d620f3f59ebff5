"""The HTTP server of `newsqa serve`: uvicorn, plus the connection limits uvicorn lacks.

uvicorn (0.54) arms its keep-alive timer only after a response and cancels it on the next byte
received, and has no limit on open connections (``limit_concurrency`` answers 503 to requests,
but only once their headers are in). So a client that connects and sends nothing, or sends its
headers a byte at a time, holds a socket forever, and enough of them exhaust the process's file
descriptors (new clients dropped, index reloads failing with ``Errno 24``). Here:

* **Header timeout**: a connection whose request headers are not complete ``header_timeout``
  seconds after it connected, or after its previous response, is closed. Sending bytes does
  not extend it, so slow-header clients are cut as surely as idle ones.
* **Connection limit**: at most ``max_connections`` connections are open. At the limit a new
  connection closes the one that has waited longest for request headers (idle or still sending
  them); failing that, the oldest one still sending a request body; failing that, the new one
  is closed. Attackers' idle sockets cannot lock out ``/health``, and requests being served
  are never cut. ``max_connections`` is kept well below the open-files limit, whose soft value
  is raised to the hard one at start.
* **Header size**: request headers over ``MAX_HEADER_BYTES`` get 431 and the connection is
  closed. httptools (the default parser) sets no bound: one request could send a header of
  hundreds of megabytes, all held in memory until its end, within the header timeout.
* **Keep-alive timeout**: ``keep_alive_timeout`` (uvicorn's ``timeout_keep_alive``).
* **Proxy headers**: trusted only from ``forwarded_allow_ips`` (uvicorn's default trusts
  X-Forwarded-For from any loopback client); unset, the peer address is the client.

The body timeout (408) is ASGI middleware: ``service.limits.BodyLimit``.

Both of uvicorn's HTTP/1.1 protocols are supported (httptools, the default with
``uvicorn[standard]``, and h11): the limits use only what both share (``connection_made``,
``data_received``, ``on_response_complete``, ``connection_lost`` and the request ``cycle``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import logging.config
import multiprocessing
import os
import select
import signal
import socket
import threading
import time
from typing import Any

import uvicorn

from newsqa.settings import Settings

log = logging.getLogger("newsqa.server")

MAX_HEADER_BYTES = 64 * 1024
"""Largest request line and headers together (nginx's default is 32 KiB, h11's 16 KiB)."""

HEADERS_TOO_LARGE = (
    json.dumps({"detail": f"request headers too large: the limit is {MAX_HEADER_BYTES} bytes"})
).encode()

FD_RESERVE = 256
"""File descriptors kept free of connections at least: index segments, SQLite, the model."""


def raise_open_files_limit() -> int | None:
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the soft limit now in force
    (None where the platform has no such limit)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return None if soft == resource.RLIM_INFINITY else soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (OSError, ValueError):  # e.g. above the kernel's nr_open
        return soft
    return target


def connection_budget(max_connections: int, open_files: int | None) -> int:
    """``max_connections``, lowered to leave a quarter of the open-files limit (at least
    ``FD_RESERVE``) to everything else the process opens."""
    if open_files is None:
        return max_connections
    reserve = max(FD_RESERVE, open_files // 4)
    return max(1, min(max_connections, open_files - reserve))


class ConnectionGuard:
    """The open connections of one server, and which of them may be closed for a new one."""

    def __init__(self, max_connections: int) -> None:
        self.max_connections = max_connections
        self.open: dict[Any, int] = {}  # protocol -> sequence number (connection age)
        self.waiting: dict[Any, None] = {}  # waiting for request headers, longest first
        self._seq = itertools.count()
        self._warned_at = float("-inf")

    def admit(self, protocol: Any) -> bool:
        """Count a new connection; close another (or this one: returns False) at the limit."""
        self.open[protocol] = next(self._seq)
        if len(self.open) <= self.max_connections:
            return True
        victim = next(iter(self.waiting), None) or self._oldest_uploading(protocol)
        if victim is None:
            self.close(protocol)
            now = time.monotonic()
            if now - self._warned_at > 10:
                self._warned_at = now
                log.warning(
                    "connection refused: %d connections open, all with requests being served "
                    "(NEWSQA_MAX_CONNECTIONS)",
                    self.max_connections,
                )
            return False
        self.close(victim)
        return True

    def _oldest_uploading(self, exclude: Any) -> Any | None:
        uploading = [
            (seq, protocol)
            for protocol, seq in self.open.items()
            if protocol is not exclude and _sending_body(protocol)
        ]
        return min(uploading, key=lambda pair: pair[0])[1] if uploading else None

    def wait_for_headers(self, protocol: Any) -> None:
        self.waiting.pop(protocol, None)
        self.waiting[protocol] = None  # to the end: the longest waiting is first

    def busy(self, protocol: Any) -> None:
        self.waiting.pop(protocol, None)

    def forget(self, protocol: Any) -> None:
        self.open.pop(protocol, None)
        self.waiting.pop(protocol, None)

    def close(self, protocol: Any) -> None:
        self.forget(protocol)
        if not protocol.transport.is_closing():
            protocol.transport.close()


def _in_progress(protocol: Any) -> bool:
    cycle = protocol.cycle
    return cycle is not None and not cycle.response_complete


def _sending_body(protocol: Any) -> bool:
    return _in_progress(protocol) and protocol.cycle.more_body


# Over 50 lines on purpose: a protocol subclass built in one closure so that its limits are fixed
# when the server starts.
def guarded_protocol(
    base: type[asyncio.Protocol],
    guard: ConnectionGuard,
    header_timeout: float,
    max_header_bytes: int = MAX_HEADER_BYTES,
) -> type[asyncio.Protocol]:
    """A subclass of uvicorn's HTTP protocol ``base`` with the header timeout, the header size
    limit and ``guard``."""

    class GuardedProtocol(base):  # type: ignore[valid-type, misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.header_timer: asyncio.TimerHandle | None = None
            self.header_bytes = 0  # received of the request headers not yet complete

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            if guard.admit(self):
                self._wait_for_headers()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            guard.forget(self)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            waiting = not _in_progress(self)
            # Headers that end in this very read are counted before the parser sees them:
            # counted only while still incomplete, a request read whole (100 KB of headers
            # sent at once, up to the read size) was served, and a request line over 64 KiB
            # got httptools' plain-text 400 instead of this 431.
            end = data.find(b"\r\n\r\n") if waiting else -1
            if end >= 0 and self.header_bytes + end + 4 > max_header_bytes:
                self._headers_too_large()
                return
            super().data_received(data)
            if _in_progress(self):  # the headers of a request are complete
                self._cancel_header_timer()
                guard.busy(self)
            elif waiting and not self.transport.is_closing():
                self.header_bytes += len(data)
                if self.header_bytes > max_header_bytes:
                    self._headers_too_large()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not _in_progress(self):
                self._wait_for_headers()  # for the next request on this connection

        def _wait_for_headers(self) -> None:
            self._cancel_header_timer()
            self.header_bytes = 0
            self.header_timer = self.loop.call_later(header_timeout, self._header_timeout)
            guard.wait_for_headers(self)

        def _cancel_header_timer(self) -> None:
            if self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None

        def _unsupported_upgrade_warning(self) -> None:
            # ws="none": an Upgrade header is served as a plain request. uvicorn's warning
            # (install a WebSocket library) would be wrong here, and a line per request.
            log.debug("ignored an Upgrade request header from %s", self.client)

        def _header_timeout(self) -> None:
            self.header_timer = None
            if _in_progress(self):  # pragma: no cover - the timer is cancelled first
                return
            log.debug("closing %s: no request headers within %g s", self.client, header_timeout)
            guard.close(self)

        def _headers_too_large(self) -> None:
            log.debug("closing %s: request headers over %d bytes", self.client, max_header_bytes)
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: application/json\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                % (len(HEADERS_TOO_LARGE), HEADERS_TOO_LARGE)
            )
            guard.close(self)

    GuardedProtocol.__name__ = GuardedProtocol.__qualname__ = f"Guarded{base.__name__}"
    return GuardedProtocol


def http_protocol(name: str = "auto") -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol class: ``auto`` (httptools when installed), ``httptools``
    or ``h11``."""
    if name == "h11":
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol
    if name == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    return AutoHTTPProtocol


class _Server(uvicorn.Server):
    """uvicorn's server, saying where it listens also when it was handed a bound socket
    (``bind_socket``): uvicorn logs "running on" only for a socket it bound itself."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if sockets and self.started:
            host, port = sockets[0].getsockname()[:2]
            url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
            log.info("listening on %s (Press CTRL+C to quit)", url)


def build_server(
    app: Any,
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    http: str = "auto",
    **config: Any,
) -> uvicorn.Server:
    """The uvicorn server for ``app`` with the connection limits of ``settings``; ``config``
    adds uvicorn.Config arguments (log config, log level)."""
    max_connections = connection_budget(settings.max_connections, raise_open_files_limit())
    if max_connections < settings.max_connections:
        log.warning(
            "NEWSQA_MAX_CONNECTIONS=%d lowered to %d to stay well below the open-files limit",
            settings.max_connections,
            max_connections,
        )
    guard = ConnectionGuard(max_connections)
    forwarded = settings.forwarded_allow_ips
    server = _Server(
        uvicorn.Config(
            app,
            host=host or settings.host,
            port=port if port is not None else settings.port,
            http=guarded_protocol(http_protocol(http), guard, settings.header_timeout),
            ws="none",  # no WebSocket routes: an upgrade would leave the guard's bookkeeping
            timeout_keep_alive=settings.keep_alive_timeout,  # type: ignore[arg-type]
            proxy_headers=forwarded is not None,
            forwarded_allow_ips=forwarded or "",
            root_path=settings.root_path,
            **config,
        )
    )
    server.connection_guard = guard  # type: ignore[attr-defined]  # for tests and debugging
    return server


def _stop_with(parent_pid: int) -> None:
    """Stop this server process as a SIGTERM does (requests and a running bulk job finish,
    the write worker ends) once the parent ``newsqa serve`` has ended, however it ended. A
    parent killed with SIGKILL (an out-of-memory kill, a supervisor that kills the main
    process only) runs no shutdown, and its worker processes went on serving the port for
    good, about 2 GB each, with no parent to restart them: a restarted ``newsqa serve``
    could not listen on the port ("Address already in use")."""
    try:
        parent = os.pidfd_open(parent_pid)  # the process itself: a reused pid cannot fool it
    except ProcessLookupError:
        raise SystemExit(0) from None

    def watch() -> None:
        select.select([parent], [], [])  # readable once the parent has exited
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="stop-with-parent", daemon=True).start()


def _worker(
    settings: Settings, sock: socket.socket, config: dict[str, Any], parent_pid: int
) -> None:
    """One server process of ``serve_workers``: its own app (index, model, limits) on the
    shared listening socket, for as long as the parent runs."""
    from service.app import create_app

    _stop_with(parent_pid)
    server = build_server(create_app(settings), settings, **config)
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(3)


def bind_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, not yet listening (the server listens once its app has
    started). Binding first lets ``newsqa serve`` on a port in use fail in a moment, naming the
    port, instead of after loading the index and the model (seconds) as uvicorn's own bind
    did. Raises ``OSError`` when the port cannot be had."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def serve_workers(settings: Settings, sock: socket.socket, **config: Any) -> int:
    """Run ``settings.workers`` server processes on the bound socket ``sock``
    (``bind_socket``), each with the connection limits of ``build_server``; restart one that
    dies, stop all on SIGINT or SIGTERM. uvicorn's own ``workers`` cannot carry the limits:
    its processes build a plain server from a pickled config. Each process holds its own
    index, model, rate limits and in-flight counts, so those limits apply per process.
    Returns the exit status."""
    if isinstance(config.get("log_config"), dict):
        # This process logs as its workers do: uvicorn configures logging in each worker only,
        # and the lines of this one (a worker that died and was restarted) came out as bare
        # text among their JSON lines, with no level field for a log pipeline, INFO not at all.
        logging.config.dictConfig(config["log_config"])
    sock.listen(2048)
    sock.set_inheritable(True)
    context = multiprocessing.get_context("spawn")  # a process running torch must not fork
    stop = threading.Event()

    def start() -> multiprocessing.process.BaseProcess:
        process = context.Process(
            target=_worker, args=(settings, sock, config, os.getpid()), daemon=False
        )
        process.start()
        return process

    def on_signal(signum: int, _: object) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    processes = [start() for _ in range(settings.workers)]
    log.info("serving with %d worker processes", settings.workers)
    while not stop.wait(0.5):
        for i, process in enumerate(processes):
            if not process.is_alive():
                if process.exitcode == 3:  # the app could not start: restarting will not help
                    stop.set()
                    break
                log.warning(
                    "worker %s exited with %s; starting another", process.pid, process.exitcode
                )
                processes[i] = start()
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=30)
    sock.close()
    return 3 if any(p.exitcode == 3 for p in processes) else 0
