"""Hostile clients at the connection level (issue 16): idle and slow-header sockets, 1-byte/s
bodies, connection floods, unauthenticated half-sent writes, spoofed X-Forwarded-For, and
one client's burst against everyone else's requests.

The first tests run ``service.server.build_server`` (the uvicorn server of `newsqa serve`)
in a thread around a small ASGI app, with both of uvicorn's HTTP protocols: the connection
limits do not depend on the app. The rest run the real `newsqa serve` over the corpus index,
with small limits of their own. Slow clients are raw sockets; every client is on loopback, and
different loopback source addresses (127.0.0.x) are different client IPs to the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from newsqa.server_process import serve_in_background
from newsqa.settings import Settings
from service.server import build_server, connection_budget

TOKEN = "s3cret-admin-token"


# --- raw-socket clients -------------------------------------------------------------------


def connect(url: str, source: str = "127.0.0.1", timeout: float = 5.0) -> socket.socket:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=timeout, source_address=(source, 0))
    sock.settimeout(timeout)
    return sock


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed ``sock`` (reading and dropping what it sends), or None
    if it is still open after ``seconds``."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body: status, headers, body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    headers = {k.lower(): v for k, v in headers.items()}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the response body"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def client(source: str, **kwargs) -> httpx.Client:
    """An HTTP client whose requests come from the loopback address ``source``."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), **kwargs)


# --- the server module, around a small app, with both HTTP protocols ------------------------


def _small_app(release: threading.Event):
    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/hold":  # a request in progress until the test releases it
            while not release.is_set():
                await asyncio.sleep(0.02)
        body = b"ok"
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


@contextlib.contextmanager
def small_server(http: str, **limits) -> Iterator[tuple[str, threading.Event]]:
    release = threading.Event()
    settings = Settings(_env_file=None, **limits)
    server = build_server(
        _small_app(release), settings, "127.0.0.1", 0, http, lifespan="off", log_config=None
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", release
    finally:
        release.set()
        server.should_exit = True
        thread.join(timeout=10)


PROTOCOLS = pytest.mark.parametrize("http", ["httptools", "h11"])


@PROTOCOLS
def test_idle_and_slow_header_connections_are_closed(http):
    with small_server(http, header_timeout=0.5) as (url, _):
        idle = connect(url)
        slow = connect(url)
        slow.sendall(b"GET / HTTP/1.1\r\n")
        for i in range(4):  # bytes keep coming, but the headers never end: no extension
            time.sleep(0.2)
            with contextlib.suppress(OSError):
                slow.sendall(b"X-Slow-%d: 1\r\n" % i)
        waited = closed_within(slow, 3)
        assert waited is not None and waited < 1, "slow-header connection still open"
        assert closed_within(idle, 1) is not None, "idle connection still open"
        # A request in time is answered, and the timer starts again after the response.
        prompt = connect(url)
        prompt.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(prompt)[0] == 200
        waited = closed_within(prompt, 3)
        assert waited is not None and 0.2 < waited < 1.5


@PROTOCOLS
def test_connection_limit_closes_the_longest_idle_never_a_request_in_progress(http):
    with small_server(http, header_timeout=30, max_connections=5) as (url, release):
        busy = connect(url)
        busy.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        idle = [connect(url) for _ in range(4)]  # five open: at the limit
        time.sleep(0.2)
        with httpx.Client(timeout=5) as http_client:  # a sixth: the longest idle makes room
            assert http_client.get(f"{url}/").status_code == 200
            assert closed_within(idle[0], 2) is not None
            assert all(closed_within(s, 0.1) is None for s in idle[1:])
            # Fill up with idle sockets again: the request in progress is never the one closed.
            more = [connect(url) for _ in range(8)]
            time.sleep(0.3)  # this client's kept-alive connection was one of those closed
            assert http_client.get(f"{url}/").status_code == 200
        release.set()
        assert read_response(busy)[0] == 200
        for sock in idle + more:
            sock.close()


@PROTOCOLS
def test_at_the_limit_with_every_connection_busy_the_new_one_is_closed(http):
    with small_server(http, header_timeout=30, max_connections=2) as (url, release):
        busy = [connect(url) for _ in range(2)]
        for sock in busy:
            sock.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        refused = connect(url)
        assert closed_within(refused, 2) is not None
        release.set()
        assert [read_response(sock)[0] for sock in busy] == [200, 200]


@PROTOCOLS
def test_request_headers_over_the_limit_get_431_and_the_connection_is_closed(http):
    """httptools has no bound on headers: a 50 MB header was read into memory and answered."""
    with small_server(http, header_timeout=30) as (url, _):
        huge = connect(url)
        huge.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        with contextlib.suppress(OSError):  # the server may close while this is still sending
            for _ in range(50):
                huge.sendall(b"X-Big: " + b"a" * 65536 + b"\r\n")
        status, headers, body = read_response(huge)
        assert status in (431, 400) if http == "h11" else status == 431  # h11 stops at 16 KiB
        if status == 431:
            assert "65536 bytes" in json.loads(body)["detail"] and headers["connection"] == "close"
        assert closed_within(huge, 2) is not None
        # headers under the limit, and a body over it, are served as before
        with httpx.Client(timeout=5) as http_client:
            assert http_client.get(f"{url}/", headers={"X-Mid": "b" * 8000}).status_code == 200
            assert http_client.post(f"{url}/", content=b"c" * 300_000).status_code == 200


def test_connection_budget_stays_well_below_the_open_files_limit():
    assert connection_budget(1000, None) == 1000
    assert connection_budget(1000, 1 << 20) == 1000
    assert connection_budget(1000, 1024) == 768  # 256 left for the index, model, logs
    assert connection_budget(1000, 20_000) == 1000
    assert connection_budget(20_000, 20_000) == 15_000
    assert connection_budget(10, 100) == 1


# --- the real `newsqa serve` ----------------------------------------------------------------


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory, corpus_index, settings):
    """`newsqa serve` with a 1 s header timeout, a 2 s body timeout, an admin token, 4
    requests in flight (2 per client), a small rate limit and proxy headers untrusted (the
    default), over a copy of the corpus index (a test holds its writer lock)."""
    index_dir = tmp_path_factory.mktemp("strict") / "index"
    shutil.copytree(corpus_index, index_dir)
    env = {
        "NEWSQA_CACHE_DIR": str(settings.cache_dir),
        "NEWSQA_HEADER_TIMEOUT": "1",
        "NEWSQA_BODY_TIMEOUT": "2",
        "NEWSQA_ADMIN_TOKEN": TOKEN,
        "NEWSQA_MAX_IN_FLIGHT": "4",
        "NEWSQA_MAX_IN_FLIGHT_PER_CLIENT": "2",
        "NEWSQA_RATE_LIMIT_PER_MINUTE": "6",
        "NEWSQA_RATE_LIMIT_BURST": "2",
        "NEWSQA_WRITE_LOCK_TIMEOUT": "60",
    }
    with serve_in_background(index_dir, env) as server:
        yield server.url, index_dir


@pytest.fixture(scope="module")
def proxied_server(corpus_index, settings):
    """`newsqa serve` trusting X-Forwarded-For from 127.0.0.9 only, at most 20 connections,
    a 1 s keep-alive, and ``NEWSQA_ADMIN_TOKEN=`` (empty)."""
    env = {
        "NEWSQA_CACHE_DIR": str(settings.cache_dir),
        "NEWSQA_FORWARDED_ALLOW_IPS": "127.0.0.9",
        "NEWSQA_MAX_CONNECTIONS": "20",
        "NEWSQA_HEADER_TIMEOUT": "30",
        "NEWSQA_KEEP_ALIVE_TIMEOUT": "1",
        "NEWSQA_ADMIN_TOKEN": "",
        "NEWSQA_RATE_LIMIT_PER_MINUTE": "6",
        "NEWSQA_RATE_LIMIT_BURST": "2",
    }
    with serve_in_background(corpus_index, env) as server:
        yield server


def test_idle_connection_is_closed_after_the_header_timeout(strict_server):
    url, _ = strict_server
    sock = connect(url)
    waited = closed_within(sock, 5)
    assert waited is not None, "an idle connection stayed open"
    assert 0.5 < waited < 3


def test_slow_header_connection_is_closed(strict_server):
    url, _ = strict_server
    sock = connect(url)
    started = time.monotonic()
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    with contextlib.suppress(OSError):  # one header line every 0.25 s: never complete
        while time.monotonic() - started < 4:
            sock.sendall(b"X-Slow: 1\r\n")
            time.sleep(0.25)
    waited = closed_within(sock, 1)
    assert waited is not None, "a slow-header connection stayed open"
    assert time.monotonic() - started < 4.5


def test_one_byte_per_second_body_gets_408(strict_server):
    url, _ = strict_server
    sock = connect(url, source="127.0.0.21")
    sock.sendall(
        b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 200\r\n\r\n{"
    )
    started = time.monotonic()
    sock.settimeout(0.3)
    with contextlib.suppress(OSError):
        while time.monotonic() - started < 6:
            sock.sendall(b" ")
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    break  # the server has answered
            except TimeoutError:
                pass
    sock.settimeout(5)
    status, headers, body = read_response(sock)
    assert status == 408
    assert 1.5 < time.monotonic() - started < 4
    assert headers["connection"] == "close"
    assert "2 s" in json.loads(body)["detail"]
    assert closed_within(sock, 2) is not None


def test_unauthenticated_write_is_refused_before_its_body(strict_server, proxied_server):
    for url, status in ((strict_server[0], 401), (proxied_server.url, 403)):
        sock = connect(url, source="127.0.0.22")
        started = time.monotonic()
        sock.sendall(
            b"POST /articles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000\r\n\r\n[{"  # 1 MB announced, 2 bytes sent
        )
        answered, headers, body = read_response(sock)
        assert answered == status, body
        assert time.monotonic() - started < 1.5
        assert headers["connection"] == "close"
        if status == 401:
            assert headers["www-authenticate"] == "Bearer"
        assert closed_within(sock, 2) is not None


def test_empty_admin_token_turns_writes_off(proxied_server):
    url = proxied_server.url
    article = {"id": "x-1", "title": "t", "text": "Teks berita yang cukup panjang untuk diuji."}
    for auth in ("Bearer", "Bearer anything", ""):  # "Bearer " arrives as "Bearer"
        headers = {"Authorization": auth} if auth else {}
        response = httpx.post(f"{url}/articles", json=article, headers=headers)
        assert response.status_code == 403, response.text
        assert "NEWSQA_ADMIN_TOKEN" in response.json()["detail"]
    deleted = httpx.delete(f"{url}/articles/nq-001", headers={"Authorization": "Bearer"})
    assert deleted.status_code == 403
    assert httpx.get(f"{url}/articles/nq-001").status_code == 200


def test_x_forwarded_for_is_ignored_unless_the_proxy_is_trusted(strict_server, proxied_server):
    blank = {"q": " "}  # cheap (422) and still rate-limited
    # Default: a loopback client cannot pick its rate-limit key with X-Forwarded-For.
    with client("127.0.0.1", base_url=strict_server[0]) as peer:
        statuses = [
            peer.get("/search", params=blank, headers={"X-Forwarded-For": f"10.0.0.{i}"})
            for i in range(3)
        ]
        assert [r.status_code for r in statuses] == [422, 422, 429]
    # Trusted proxy (127.0.0.9): each forwarded client has its own bucket.
    with client("127.0.0.9", base_url=proxied_server.url) as proxy:
        for forwarded in ("10.0.1.1", "10.0.1.2"):
            headers = {"X-Forwarded-For": forwarded}
            statuses = [proxy.get("/search", params=blank, headers=headers) for _ in range(3)]
            assert [r.status_code for r in statuses] == [422, 422, 429]
    # Any other address is its own client, whatever it forwards.
    with client("127.0.0.1", base_url=proxied_server.url) as other:
        statuses = [
            other.get("/search", params=blank, headers={"X-Forwarded-For": f"10.0.2.{i}"})
            for i in range(3)
        ]
        assert [r.status_code for r in statuses] == [422, 422, 429]


def test_keep_alive_connection_is_closed_after_the_keep_alive_timeout(proxied_server):
    sock = connect(proxied_server.url)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(sock)[0] == 200
    waited = closed_within(sock, 4)
    assert waited is not None and waited < 2.5, waited  # uvicorn's default is 5 s


def _socket_fds(pid: int) -> int:
    fds = Path(f"/proc/{pid}/fd")
    count = 0
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            count += "socket:" in str(fd.readlink())
    return count


def test_idle_socket_flood_cannot_lock_out_health(proxied_server):
    """40 idle sockets against a 20-connection limit (header timeout 30 s): the server closes
    the longest idle ones, stays at the limit, and /health answers at once."""
    url, pid = proxied_server.url, proxied_server.proc.pid
    before = _socket_fds(pid)
    flood = [connect(url, source="127.0.0.30") for _ in range(40)]
    started = time.monotonic()
    health = httpx.get(f"{url}/health", timeout=5)
    assert health.status_code == 200
    assert time.monotonic() - started < 2
    assert closed_within(flood[0], 2) is not None, "the longest idle socket is still open"
    assert closed_within(flood[-1], 0.1) is None  # the newest is kept
    deadline = time.monotonic() + 3
    while _socket_fds(pid) > before + 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _socket_fds(pid) <= before + 20
    for sock in flood:
        sock.close()


def test_one_client_cannot_take_every_in_flight_slot(strict_server):
    """4 in flight, 2 per client: client A's writes wait for the index lock (held here), its
    extra requests get 503 naming the per-client limit, and client B's page is served."""
    from filelock import FileLock

    from indexer.store import LOCK

    url, index_dir = strict_server
    auth = {"Authorization": f"Bearer {TOKEN}"}
    lock = FileLock(str(index_dir / LOCK))
    lock.acquire(timeout=10)
    results: list[httpx.Response] = []
    done = threading.Lock()

    def write() -> None:
        with client("127.0.0.2", timeout=120) as a:
            response = a.delete(f"{url}/articles/no-such-article", headers=auth)
        with done:
            results.append(response)

    writers = [threading.Thread(target=write) for _ in range(4)]
    try:
        for thread in writers:
            thread.start()
        deadline = time.monotonic() + 20
        while len(results) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [r.status_code for r in results] == [503, 503]
        for response in results:
            assert response.headers["retry-after"] == "1"
            assert "2 per client" in response.json()["detail"]
        with client("127.0.0.3", base_url=url, timeout=10) as b:
            page = b.get("/")
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
            assert b.get("/articles/nq-001").status_code == 200
    finally:
        lock.release()
        for thread in writers:
            thread.join(timeout=180)
    assert sorted(r.status_code for r in results) == [404, 404, 503, 503]


@PROTOCOLS
def test_request_headers_over_the_limit_read_at_once_get_431(http):
    """Counted only while incomplete, headers that arrived whole in one read were served: a
    100 KB header sent at once got 200, a 70 KB request line httptools' plain-text 400."""
    with small_server(http, header_timeout=30) as (url, _):
        for request in (
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
            b"GET /?q=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        ):
            sock = connect(url)
            with contextlib.suppress(OSError):
                sock.sendall(request)
            status, headers, body = read_response(sock)
            assert status in (431, 400) if http == "h11" else status == 431
            if status == 431:
                assert "65536 bytes" in json.loads(body)["detail"]
                assert headers["connection"] == "close"
            assert closed_within(sock, 2) is not None
        with httpx.Client(timeout=5) as http_client:  # a body past 64 KiB is no header
            response = http_client.post(f"{url}/", content=b"c" * 300_000)
            assert response.status_code == 200
