"""`newsqa serve` options for deployment, against the real server: several worker processes
on one port (every one answers for every bulk job), CORS for a CMS on another origin, and a
root path behind a reverse proxy."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import running_server

TOKEN = "serving-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CMS = "https://cms.example"


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def running(pid: int) -> bool:
    try:  # a zombie has ended: only its exit status waits to be collected
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory, corpus_index, settings):
    index_dir = tmp_path_factory.mktemp("serving") / "index"
    shutil.copytree(corpus_index, index_dir)
    with running_server(
        index_dir,
        settings.cache_dir,
        NEWSQA_WORKERS="2",
        NEWSQA_CORS_ORIGINS=f"{CMS}, https://other.example",
        NEWSQA_ROOT_PATH="/newsqa",
        NEWSQA_ADMIN_TOKEN=TOKEN,
        NEWSQA_RATE_LIMIT_PER_MINUTE="0",
        # a poll too slow to explain what the tests see: a request checks CURRENT itself
        NEWSQA_RELOAD_INTERVAL="60",
    ) as url:
        yield url, index_dir


def test_workers_share_the_port_and_every_one_answers_for_every_job(server):
    url, index_dir = server
    record = {
        "id": "serving-001",
        "title": "Lomba perahu bidar di Sungai Musi diikuti 40 tim",
        "text": "Sebanyak 40 tim perahu bidar dari 17 kecamatan ikut lomba tahunan di Sungai "
        "Musi. Tim dari Seberang Ulu juara setelah mengungguli tim Ilir Timur di final.",
    }
    accepted = httpx.post(f"{url}/articles/bulk", json=[record], headers=AUTH, timeout=60)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["id"]
    assert accepted.headers["location"] == f"/newsqa/jobs/{job_id}"  # the proxy's path to it
    deadline = time.monotonic() + 300
    states = set()
    while time.monotonic() < deadline:
        # a new connection each time: the kernel hands them to either process
        job = httpx.get(f"{url}/jobs/{job_id}", headers=AUTH, timeout=30)
        assert job.status_code == 200, job.text
        states.add(job.json()["state"])
        if job.json()["state"] == "done":
            break
        time.sleep(0.3)
    assert job.json()["items"] == [
        {"id": "serving-001", "result": "added", "reason": None, "duplicate_of": None}
    ]
    assert (index_dir / ".jobs" / f"{job_id}.json").is_file()
    for _ in range(10):  # either process answers for the job
        assert httpx.get(f"{url}/jobs/{job_id}", headers=AUTH, timeout=30).status_code == 200
    # the other process swaps to the new generation at its next poll of CURRENT
    deadline, served = time.monotonic() + 60, 0
    while served < 10 and time.monotonic() < deadline:
        found = httpx.get(f"{url}/articles/serving-001", timeout=30).status_code == 200
        served = served + 1 if found else 0
        time.sleep(0 if found else 0.5)
    assert served == 10, "both processes serve the written article"


def test_every_worker_process_serves_a_write_once_it_answered(server):
    """A 2xx write is what the next request sees, whichever process takes it: the other
    process served the old generation until its next poll (a deleted article came back)."""
    url, _ = server
    record = {
        "id": "serving-002",
        "title": "Pasar terapung Lok Baintan ramai pembeli",
        "text": "Pedagang pasar terapung Lok Baintan menjual sayur dan buah dari perahu sejak "
        "subuh. Pembeli datang dari Banjarmasin dan Martapura.",
    }
    written = httpx.put(f"{url}/articles/serving-002", json=record, headers=AUTH, timeout=120)
    assert written.status_code == 201, written.text
    # a new connection each time: the kernel hands them to either process
    assert {httpx.get(f"{url}/articles/serving-002").status_code for _ in range(12)} == {200}
    deleted = httpx.delete(f"{url}/articles/serving-002", headers=AUTH, timeout=120)
    assert deleted.status_code == 200, deleted.text
    assert {httpx.get(f"{url}/articles/serving-002").status_code for _ in range(12)} == {404}


def test_two_worker_processes_run_under_the_server(server):
    url, _ = server
    port = url.rsplit(":", 1)[1]
    listed = subprocess.run(["ps", "-ww", "-eo", "pid=,args="], capture_output=True, text=True)
    [parent] = [
        int(line.split(None, 1)[0])
        for line in listed.stdout.splitlines()
        if "newsqa serve" in line and f"--port {port}" in line
    ]
    assert len(children(parent)) >= 2


def test_cors_lets_the_named_origins_call_the_api(server):
    url, _ = server
    preflight = httpx.options(
        f"{url}/ask",
        headers={
            "Origin": CMS,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=30,
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == CMS
    asked = httpx.post(
        f"{url}/search", json={"q": "harga cabai"}, headers={"Origin": CMS}, timeout=60
    )
    assert asked.status_code == 200 and asked.headers["access-control-allow-origin"] == CMS
    other = httpx.get(
        f"{url}/search", params={"q": "cabai"}, headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers


def test_root_path_is_in_the_openapi_document(server):
    url, _ = server
    document = httpx.get(f"{url}/openapi.json", timeout=30).json()
    assert {"url": "/newsqa"} in document.get("servers", [])
    assert json.dumps(document).count("/articles/bulk") >= 1


def test_limits_and_the_write_check_hold_under_a_root_path(tmp_path, corpus_index, settings):
    """Behind a proxy serving the API under ``/newsqa``, uvicorn puts the prefix back into the
    path the middleware sees: the rate limit, the bulk body limit and the write check keyed on
    the bare path and were all off there (any number of searches, never a 429)."""
    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    with running_server(
        index_dir,
        settings.cache_dir,
        NEWSQA_ROOT_PATH="/newsqa",
        NEWSQA_ADMIN_TOKEN=TOKEN,
        NEWSQA_RATE_LIMIT_PER_MINUTE="6",
        NEWSQA_RATE_LIMIT_BURST="3",
    ) as url:
        # the proxy strips the prefix: the server is asked for /search
        statuses = [httpx.get(f"{url}/search", params={"q": " "}).status_code for _ in range(4)]
        assert statuses == [422, 422, 422, 429]
        # a bulk body over the general limit but under the bulk one: the token is what is
        # refused, from the headers (the 1 MiB limit of other routes answered 413 first)
        refused = httpx.post(
            f"{url}/articles/bulk",
            content=b"[" + b" " * (2 << 20) + b"]",
            headers={"Authorization": "Bearer wrong", "Content-Type": "application/json"},
            timeout=60,
        )
        assert refused.status_code == 401, refused.text
        assert refused.headers["connection"] == "close"


def test_web_pages_behind_a_root_path_load_their_files_and_call_the_api_under_it(server):
    """The proxy serves the pages at /newsqa/: their scripts, styles and API calls were
    absolute (/static/app.js, fetch("/ask")) and went to the proxy's root instead."""
    url, _ = server
    page = httpx.get(f"{url}/", timeout=30)
    assert page.status_code == 200
    assert '<meta name="newsqa-root" content="/newsqa">' in page.text
    assert 'src="/newsqa/static/app.js"' in page.text
    assert 'href="/newsqa/static/style.css"' in page.text
    assert 'src="/static/' not in page.text and 'href="/static/' not in page.text
    reader = httpx.get(f"{url}/read/nq-001", timeout=30)
    assert reader.status_code == 200 and reader.headers["content-security-policy"]
    assert 'src="/newsqa/static/read.js"' in reader.text and 'href="/newsqa/"' in reader.text
    # the scripts (served as they are) build every URL on the root the page names
    common = httpx.get(f"{url}/static/common.js", timeout=30).text
    assert 'meta[name="newsqa-root"]' in common and "`${ROOT}/read/" in common
    app = httpx.get(f"{url}/static/app.js", timeout=30).text
    assert "fetch(`${ROOT}/ask`" in app and 'fetch("/' not in app


def test_worker_processes_end_with_a_killed_server(tmp_path, corpus_index, settings):
    """A `newsqa serve --workers 2` killed with SIGKILL (an out-of-memory kill) runs no
    shutdown: its worker processes went on serving the port for good, about 2 GB each, and a
    restarted server could not listen on it. They stop once their parent has gone."""
    from newsqa.server_process import serve_in_background

    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    env = {"NEWSQA_CACHE_DIR": str(settings.cache_dir), "NEWSQA_WORKERS": "2"}
    with serve_in_background(index_dir, env) as served:
        workers = children(served.proc.pid)
        assert len(workers) >= 2
        served.proc.kill()
        served.proc.wait()
        deadline = time.monotonic() + 60
        while any(map(running, workers)) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [pid for pid in workers if running(pid)]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert left == [], "worker processes outlived their server"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{served.url}/ready", timeout=5)


def test_the_parent_of_the_workers_logs_json_lines(tmp_path, corpus_index, settings):
    """The process that starts the workers and restarts one that dies logs JSON as they do:
    its lines were bare text ('... WARNING newsqa.server: worker 123 exited with -9')."""
    from newsqa.server_process import serve_in_background

    index_dir, log_path = tmp_path / "index", tmp_path / "serve.log"
    shutil.copytree(corpus_index, index_dir)
    env = {"NEWSQA_CACHE_DIR": str(settings.cache_dir), "NEWSQA_WORKERS": "2"}
    with serve_in_background(index_dir, env, log_path=log_path) as served:
        [worker, *_] = [
            pid
            for pid in children(served.proc.pid)
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while f"worker {worker} exited" not in log_path.read_text():
            assert time.monotonic() < deadline, "no line about the killed worker"
            time.sleep(0.2)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if "exited" in line]
    assert lines[0]["level"] == "WARNING" and lines[0]["logger"] == "newsqa.server"
    started = [json.loads(line) for line in log_path.read_text().splitlines() if "2 worker" in line]
    assert started[0]["message"] == "serving with 2 worker processes"


def test_ctrl_c_stops_a_server_that_wrote_without_a_traceback(tmp_path, corpus_index, settings):
    """Ctrl-C signals the terminal's whole process group: the server's write worker (started
    by the first write) died of it with a KeyboardInterrupt traceback in the log, or mid-way
    through a write the server was finishing. The server alone now decides when it ends."""
    from newsqa.server_process import free_port

    index_dir, log_path = tmp_path / "index", tmp_path / "serve.log"
    shutil.copytree(corpus_index, index_dir)
    port = free_port()
    env = {**os.environ, "NEWSQA_CACHE_DIR": str(settings.cache_dir), "NEWSQA_ADMIN_TOKEN": TOKEN}
    command = ["newsqa", "serve", "--index-dir", str(index_dir), "--port", str(port)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", *command, "--host", "127.0.0.1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own, as a terminal's job is
        )
    try:
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 180
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        record = {"id": "ctrl-c-1", "title": "Banjir", "text": "Banjir melanda Palembang."}
        written = httpx.post(f"{url}/articles", json=record, headers=AUTH, timeout=120)
        assert written.status_code == 201, written.text
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 130  # 128 + SIGINT, after a graceful shutdown
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in log_path.read_text(), log_path.read_text()[-3000:]
