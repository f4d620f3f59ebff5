"""Bulk and batch HTTP endpoints against the real server: POST /articles/bulk (a job per
batch, one generation, a result per record), POST /articles/delete, GET /jobs/{id}, GET
/articles (listing), GET /stats, POST /search and POST /ask/batch, and filters with several
values."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from conftest import CORPUS_DIR, running_server

from service.jobs import JOBS_DIR, NOT_STARTED

TOKEN = "bulk-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RECORDS = [json.loads(line) for line in (CORPUS_DIR / "articles.jsonl").open()]


@pytest.fixture(scope="module")
def bulk_index(tmp_path_factory, corpus_index):
    index_dir = tmp_path_factory.mktemp("bulk") / "index"
    shutil.copytree(corpus_index, index_dir)
    return index_dir


@pytest.fixture(scope="module")
def server(bulk_index, settings):
    with running_server(
        bulk_index,
        settings.cache_dir,
        NEWSQA_ADMIN_TOKEN=TOKEN,
        NEWSQA_RATE_LIMIT_PER_MINUTE="0",
    ) as url:
        yield url


def wait_for_job(url: str, job_id: str, seconds: float = 300) -> dict:
    deadline = time.monotonic() + seconds
    with httpx.Client(headers=AUTH, timeout=30) as client:  # a new client per poll: 31 ms CPU
        while time.monotonic() < deadline:
            job = client.get(f"{url}/jobs/{job_id}").json()
            if job["state"] in ("done", "failed"):
                return job
            time.sleep(0.3)
    raise AssertionError(f"job {job_id} not done in {seconds} s")


def bulk_job(url: str, ndjson: str | bytes) -> dict:
    """``ndjson`` sent to POST /articles/bulk; the job once it has finished."""
    response = httpx.post(
        f"{url}/articles/bulk",
        content=ndjson,
        headers={**AUTH, "Content-Type": "application/x-ndjson"},
        timeout=60,
    )
    assert response.status_code == 202, response.text
    return wait_for_job(url, response.json()["id"])


def generation(url: str) -> int:
    return httpx.get(f"{url}/ready", timeout=30).json()["generation"]


def festival(i: int) -> dict:
    """A new article of its own (no two share a sentence: none is a copy of another)."""
    return {
        "id": f"bulk-{i:03d}",
        "title": f"Festival perahu hias ke-{i} meriahkan Sungai Musi",
        "url": f"https://contoh-berita.id/bulk/{i}",
        "published": f"2024-08-{1 + i % 28:02d}T10:00:00+07:00",
        "category": "Budaya" if i % 2 else "Pariwisata",
        "source": "Kabar Bulk",
        "text": f"Sebanyak {10 + i} perahu hias dari kecamatan nomor {i} ikut festival tahun ini. "
        f"Panitia mencatat {100 * i + 7} penonton memadati tepian sungai pada hari ke-{i}. "
        f"Juri memilih perahu berbentuk {['naga', 'ikan', 'burung', 'kapal'][i % 4]} "
        f"sebagai pemenang kategori {i}.",
    }


def test_bulk_ndjson_is_a_job_with_a_result_per_record_and_one_generation(server):
    url = server
    before = generation(url)
    good = [festival(i) for i in range(12)]
    lines = [json.dumps(r) for r in good[:6]]
    lines.append("{not json")  # rejected alone, with the line named
    lines.append(json.dumps({"id": "bulk-no-text", "title": "Tanpa isi"}))
    lines.append(json.dumps(good[0]))  # repeats record 0
    lines.append(json.dumps(RECORDS[0]))  # already in the index, unchanged
    lines.append(json.dumps({**good[1], "id": "bulk-copy"}))  # an exact copy of bulk-001
    lines += [json.dumps(r) for r in good[6:]]
    response = httpx.post(
        f"{url}/articles/bulk",
        content="\n".join(lines) + "\n",
        headers={**AUTH, "Content-Type": "application/x-ndjson"},
        timeout=60,
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert response.headers["location"] == f"/jobs/{accepted['id']}"
    assert (accepted["records"], accepted["rejected"]) == (17, 3)
    job = wait_for_job(url, accepted["id"])
    assert job["state"] == "done", job
    results = [(item["id"], item["result"]) for item in job["items"]]
    assert results[:6] == [(r["id"], "added") for r in good[:6]]
    assert results[6:11] == [
        (None, "rejected"),
        ("bulk-no-text", "rejected"),
        ("bulk-000", "rejected"),
        (RECORDS[0]["id"], "unchanged"),
        ("bulk-copy", "duplicate"),
    ]
    reasons = [item["reason"] for item in job["items"][6:9]]
    assert "line 7 is not JSON" in reasons[0]
    assert "text" in reasons[1]
    assert "repeats record 0" in reasons[2]
    assert job["items"][10]["duplicate_of"] == "bulk-001"
    assert results[11:] == [(r["id"], "added") for r in good[6:]]
    assert job["result"]["added"] == 12 and job["result"]["generation"] == before + 1
    assert generation(url) == before + 1  # one generation for the whole batch
    assert job["progress"]["chunks_embedded"] == job["progress"]["chunks_total"] == 12
    found = httpx.get(
        f"{url}/search", params={"q": "perahu hias berbentuk naga", "k": 50}, timeout=60
    ).json()
    assert {p["article_id"] for p in found["passages"]} >= {"bulk-000", "bulk-004", "bulk-008"}

    # the same ids in a JSON array again: unchanged, no new generation
    again = httpx.post(f"{url}/articles/bulk", json=good, headers=AUTH, timeout=60)
    assert again.status_code == 202
    job = wait_for_job(url, again.json()["id"])
    assert {item["result"] for item in job["items"]} == {"unchanged"}
    assert generation(url) == before + 1

    # many ids deleted in one call, one generation; unknown ids are listed, not an error
    ids = [r["id"] for r in good] + ["bulk-copy", "never-indexed"]
    deleted = httpx.post(f"{url}/articles/delete", json={"ids": ids}, headers=AUTH, timeout=60)
    assert deleted.status_code == 200, deleted.text
    body = deleted.json()
    assert body["missing"] == ["never-indexed"]
    assert body["generation"] == before + 2 == generation(url)
    assert httpx.get(f"{url}/articles/bulk-003", timeout=30).status_code == 404
    assert httpx.get(f"{url}/articles/bulk-copy", timeout=30).status_code == 404


def test_a_batch_delete_sent_during_a_bulk_job_deletes_what_the_job_adds(server):
    """POST /articles/delete waits behind a running job as DELETE /articles/{id} does, and
    then finds what the job wrote: it used to answer the job's ids missing at once, from the
    generation served before the job, and they stayed once the job was done."""
    url = server
    records = [{**festival(i), "id": f"later-{i:03d}"} for i in range(300, 460)]
    posted = httpx.post(f"{url}/articles/bulk", json=records, headers=AUTH, timeout=60)
    assert posted.status_code == 202, posted.text
    job_id = posted.json()["id"]
    deadline = time.monotonic() + 300
    while True:  # the job's write holds the lock once it knows its chunks
        job = httpx.get(f"{url}/jobs/{job_id}", headers=AUTH, timeout=30).json()
        if job["progress"]["chunks_total"] is not None:
            break
        assert job["state"] in ("queued", "running") and time.monotonic() < deadline, job
        time.sleep(0.02)
    ids = ["later-300", "later-459", "never-there"]
    deleted = httpx.post(f"{url}/articles/delete", json={"ids": ids}, headers=AUTH, timeout=120)
    assert deleted.status_code == 200, deleted.text
    assert wait_for_job(url, job_id)["state"] == "done"
    assert deleted.json()["deleted"] == ["later-300", "later-459"]
    assert deleted.json()["missing"] == ["never-there"]
    for article_id in ids:
        assert httpx.get(f"{url}/articles/{article_id}", timeout=30).status_code == 404
    assert httpx.get(f"{url}/articles/later-301", timeout=30).status_code == 200
    rest = [r["id"] for r in records[1:-1]]
    cleanup = httpx.post(f"{url}/articles/delete", json={"ids": rest}, headers=AUTH, timeout=120)
    assert cleanup.json()["missing"] == []


def test_bulk_refusals_name_the_problem(server):
    url = server
    assert httpx.post(f"{url}/articles/bulk", json=[], timeout=30).status_code == 401
    for body, content_type, expected in [
        (b'{"id": "x"}', "application/json", "JSON array"),
        (b"[1, 2", "application/json", "not JSON"),
        (b"", "application/x-ndjson", "no records"),
        # PowerShell's default: a reason per line ("not UTF-8", "not JSON"), none the cause
        (
            (json.dumps(RECORDS[0]) + "\n").encode("utf-16"),
            "application/x-ndjson",
            "the body is UTF-16 text, not UTF-8",
        ),
    ]:
        response = httpx.post(
            f"{url}/articles/bulk",
            content=body,
            headers={**AUTH, "Content-Type": content_type},
            timeout=30,
        )
        assert response.status_code == 422, response.text
        assert expected in json.dumps(response.json()), response.text
    missing = httpx.get(f"{url}/jobs/nope", headers=AUTH, timeout=30)
    assert missing.status_code == 404 and "no job" in missing.json()["detail"]
    assert httpx.get(f"{url}/jobs/nope", timeout=30).status_code == 401
    too_many = {"ids": [f"x-{i}" for i in range(10_001)]}
    assert (
        httpx.post(f"{url}/articles/delete", json=too_many, headers=AUTH, timeout=30).status_code
        == 422
    )


def test_a_record_with_a_date_out_of_range_is_rejected_on_its_own(server):
    """A "no date" placeholder that is year 0 in Jakarta failed the whole job (an
    OverflowError) and wrote nothing; now it is that record's reason, and the rest is written."""
    url = server
    records = [
        {**festival(90), "published": "0001-01-01T00:00:00+08:00"},
        {**festival(91), "titel": "ejaan salah"},
        festival(92),
    ]
    body = "\n".join(json.dumps(r) for r in records)
    job = bulk_job(url, body)
    assert job["state"] == "done", job
    assert [(i["id"], i["result"]) for i in job["items"]] == [
        ("bulk-090", "rejected"),
        ("bulk-091", "rejected"),
        ("bulk-092", "added"),
    ]
    assert "published" in job["items"][0]["reason"] and "not a date" in job["items"][0]["reason"]
    assert "titel" in job["items"][1]["reason"]
    deleted = httpx.post(f"{url}/articles/delete", json={"ids": ["bulk-092"]}, headers=AUTH)
    assert deleted.status_code == 200 and not deleted.json()["missing"]


def test_ndjson_lines_are_read_as_newsqa_index_reads_a_file(server):
    """A byte order mark before the first line rejected that record; one line of bytes that
    are not UTF-8 refused the whole batch; a line separator (U+2028) inside a JSON string,
    which JSON allows unescaped, cut that record in two."""
    url = server
    separated = {**festival(94), "text": festival(94)["text"] + "\u2028Panitia puas."}
    body = (
        b"\xef\xbb\xbf"
        + json.dumps(festival(93)).encode()
        + b"\n"
        + json.dumps({**festival(95), "title": "Festival"}).encode()[:-20]
        + b'\xff\xfe"}\n'
        + b'{"id": "bulk-096", "meta": '
        + b"[" * 3000
        + b"]" * 3000
        + b"}\n"
        + json.dumps(separated, ensure_ascii=False).encode()
        + b"\r\n"
    )
    job = bulk_job(url, body)
    assert [(i["id"], i["result"]) for i in job["items"]] == [
        ("bulk-093", "added"),
        (None, "rejected"),
        (None, "rejected"),
        ("bulk-094", "added"),
    ], job
    assert "line 2 is not UTF-8" in job["items"][1]["reason"]
    assert "line 3 is not JSON: invalid JSON: nested too deeply" in job["items"][2]["reason"]
    assert "Panitia puas." in httpx.get(f"{url}/articles/bulk-094").json()["text"]
    deleted = httpx.post(
        f"{url}/articles/delete", json={"ids": ["bulk-093", "bulk-094"]}, headers=AUTH
    )
    assert deleted.status_code == 200 and not deleted.json()["missing"]


def test_a_stopping_server_starts_no_queued_job(tmp_path, corpus_index, settings):
    """SIGTERM ran every queued bulk job before the server exited (minutes, serving nothing):
    now a queued job fails at once, saying it was not started, and nothing of it is written."""
    from newsqa.server_process import serve_in_background

    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    env = {
        "NEWSQA_CACHE_DIR": str(settings.cache_dir),
        "NEWSQA_ADMIN_TOKEN": TOKEN,
        "NEWSQA_RATE_LIMIT_PER_MINUTE": "0",
    }
    with serve_in_background(index_dir, env) as running:
        first = httpx.post(
            f"{running.url}/articles/bulk",
            json=[festival(i) for i in range(100, 140)],
            headers=AUTH,
            timeout=60,
        ).json()
        queued = httpx.post(
            f"{running.url}/articles/bulk",
            json=[festival(i) for i in range(140, 142)],
            headers=AUTH,
            timeout=60,
        ).json()
        assert queued["state"] == "queued", queued
        running.proc.terminate()
        # the running job ends (or is cut), the queued one never starts; the server stops by
        # the signal, as systemd and Docker expect of a clean stop (not exit 143)
        assert running.proc.wait(timeout=120) == -signal.SIGTERM
    with running_server(
        index_dir, settings.cache_dir, **{k: v for k, v in env.items() if k != "NEWSQA_CACHE_DIR"}
    ) as url:
        job = httpx.get(f"{url}/jobs/{queued['id']}", headers=AUTH, timeout=30).json()
        assert job["state"] == "failed" and "before this job started" in job["error"], job
        assert {i["result"] for i in job["items"]} == {"failed"}
        assert httpx.get(f"{url}/articles/bulk-140", timeout=30).status_code == 404
        assert httpx.get(f"{url}/jobs/{first['id']}", headers=AUTH).json()["state"] in (
            "done",
            "failed",
        )


def test_a_job_file_gone_while_jobs_are_pruned_is_no_server_error(server, bulk_index):
    """The job thread removes a finished job's progress file while a new request lists the
    jobs folder to prune it (schemathesis hit this as a 500). A dangling link is a file that is
    listed and then cannot be read, as one removed in between."""
    jobs = bulk_index / JOBS_DIR
    jobs.mkdir(exist_ok=True)
    (jobs / "0gone.json").symlink_to(jobs / "removed-meanwhile.json")
    (jobs / "1gone.progress.json").symlink_to(jobs / "removed-meanwhile.json")
    url = server
    record = {"id": "no-text"}  # rejected: the job writes nothing, the index stays as it is
    response = httpx.post(f"{url}/articles/bulk", json=[record], headers=AUTH, timeout=30)
    assert response.status_code == 202, response.text
    job = wait_for_job(url, response.json()["id"])
    assert job["state"] == "done" and job["items"][0]["result"] == "rejected", job


def test_a_job_whose_pid_now_names_another_process_reads_failed(server, bulk_index):
    """In a container the server is PID 1 after every restart: a job cut short by a restart
    read "running" for good, its pid being alive. The saved start time tells them apart."""
    url = server
    response = httpx.post(f"{url}/articles/bulk", json=[{"id": "no-text"}], headers=AUTH)
    job = wait_for_job(url, response.json()["id"])
    saved = json.loads((bulk_index / JOBS_DIR / f"{job['id']}.json").read_text())
    assert saved["pid"] > 0 and saved["started"], saved
    other = "0" * 32  # a job this server never ran: read from its file
    path = bulk_index / JOBS_DIR / f"{other}.json"
    running = {**saved["job"], "id": other, "state": "running"}
    # saved by a PID 1 that started at another time: a restarted container's server
    path.write_text(json.dumps({**saved, "pid": 1, "started": "1", "job": running}))
    stopped = httpx.get(f"{url}/jobs/{other}", headers=AUTH).json()
    assert stopped["state"] == "failed" and "stopped before it finished" in stopped["error"]
    # an older job file, without the start time: the pid alone decides, as before
    path.write_text(json.dumps({**saved, "pid": 1, "started": "", "job": running}))
    assert httpx.get(f"{url}/jobs/{other}", headers=AUTH).json()["state"] == "running"
    path.unlink()


def test_a_queued_job_of_a_killed_process_reads_not_started(server, bulk_index):
    """A job queued behind another in a server process that was killed (``--workers N``:
    another process answers for it) never started, and read as cut short while running:
    "committed whole or not at all: look its ids up"."""
    url = server
    response = httpx.post(f"{url}/articles/bulk", json=[{"id": "no-text"}], headers=AUTH)
    job = wait_for_job(url, response.json()["id"])
    saved = json.loads((bulk_index / JOBS_DIR / f"{job['id']}.json").read_text())
    other = "2" * 32  # queued in a server process that is gone
    queued = {**saved["job"], "id": other, "state": "queued", "started_at": None}
    path = bulk_index / JOBS_DIR / f"{other}.json"
    path.write_text(json.dumps({**saved, "pid": 1, "started": "1", "job": queued}))
    stopped = httpx.get(f"{url}/jobs/{other}", headers=AUTH).json()
    assert stopped["state"] == "failed" and stopped["error"] == NOT_STARTED, stopped
    path.unlink()


def test_a_job_cut_short_reads_how_far_it_got_and_leaves_no_file_behind(server, bulk_index):
    """A job whose server was killed read failed with "chunks_embedded: 0" and "finished_at:
    null" although its progress file said 256 chunks embedded; and a progress file killed
    between its write and its rename (``.progress.tmp``) stayed in .jobs for good."""
    url = server
    response = httpx.post(f"{url}/articles/bulk", json=[{"id": "no-text"}], headers=AUTH)
    job = wait_for_job(url, response.json()["id"])
    jobs = bulk_index / JOBS_DIR
    saved = json.loads((jobs / f"{job['id']}.json").read_text())
    other = "1" * 32  # a job of a server that was killed while it embedded
    running = {**saved["job"], "id": other, "state": "running", "finished_at": None}
    (jobs / f"{other}.json").write_text(
        json.dumps({**saved, "pid": 1, "started": "1", "job": running})
    )
    progress = {"chunks embedded": {"completed": 256, "total": 300}}
    (jobs / f"{other}.progress.json").write_text(json.dumps(progress))
    left = jobs / f"{other}.progress.tmp"
    left.write_text(json.dumps(progress))
    an_hour_ago = time.time() - 3600
    os.utime(left, (an_hour_ago, an_hour_ago))

    stopped = httpx.get(f"{url}/jobs/{other}", headers=AUTH).json()
    assert stopped["state"] == "failed" and "stopped before it finished" in stopped["error"]
    assert stopped["progress"] == {"chunks_total": 300, "chunks_embedded": 256}, stopped
    last_seen = datetime.fromisoformat(stopped["finished_at"])
    assert abs(last_seen.timestamp() - (jobs / f"{other}.progress.json").stat().st_mtime) < 1

    httpx.post(f"{url}/articles/bulk", json=[{"id": "no-text"}], headers=AUTH)  # prunes .jobs
    assert not left.exists()
    for path in jobs.glob(f"{other}.*"):
        path.unlink()


def test_listing_pages_through_every_article_and_stats_count_them(server):
    url = server
    seen, cursor = [], None
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{url}/articles", params=params, timeout=30).json()
        seen += page["articles"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ids = [a["id"] for a in seen]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    stats = httpx.get(f"{url}/stats", timeout=30).json()
    assert len(ids) == stats["articles"]
    assert sum(stats["by_source"].values()) == stats["articles"]
    first = httpx.get(f"{url}/articles/{ids[0]}", timeout=30).json()
    assert first["title"] == seen[0]["title"]
    assert len({a["content_hash"] for a in seen}) == len(seen)

    some = httpx.get(
        f"{url}/articles",
        params=[("source", "warta sumsel"), ("source", "Suara Timur"), ("limit", 1000)],
        timeout=30,
    ).json()["articles"]
    assert some and {a["source"] for a in some} == {"Warta Sumsel", "Suara Timur"}
    assert len(some) == stats["by_source"]["Warta Sumsel"] + stats["by_source"]["Suara Timur"]

    # an article written now is listed since a moment before, and nothing older is
    moment = max(a["indexed_at"] for a in seen)
    record = {**festival(99), "id": "bulk-listed"}
    assert httpx.post(f"{url}/articles", json=record, headers=AUTH, timeout=120).status_code == 201
    try:
        fresh = httpx.get(
            f"{url}/articles", params={"since": moment, "limit": 1000}, timeout=30
        ).json()["articles"]
        assert "bulk-listed" in {a["id"] for a in fresh}
        assert all(a["indexed_at"] >= moment for a in fresh)
    finally:
        httpx.delete(f"{url}/articles/bulk-listed", headers=AUTH, timeout=60)


def test_stats_date_range_compares_moments_not_offsets(server):
    """Articles dated with other offsets than Jakarta's: the range is the earliest and the
    latest moment, not the first and last ISO text (which sorted by the local clock)."""
    url = server
    stats = httpx.get(f"{url}/stats", timeout=30).json()
    first, last = (datetime.fromisoformat(stats[k]) for k in ("published_from", "published_to"))
    base = {"title": "Jadwal bus malam", "category": "Uji", "source": "Zona Waktu"}
    later = last + timedelta(minutes=30)  # written in UTC: its text sorts before ``last``'s
    earlier_text = (first + timedelta(hours=-1)).astimezone(timezone(timedelta(hours=9)))
    not_first = (first + timedelta(hours=5)).astimezone(timezone(timedelta(hours=-5)))
    articles = {
        "tz-late": later.astimezone(UTC),
        "tz-early-text": not_first,  # its text sorts before ``first``'s, its moment after
        "tz-earliest": earlier_text,
    }
    try:
        for n, (article_id, published) in enumerate(articles.items()):
            article = {
                **base,
                "id": article_id,
                "published": published.isoformat(),
                "text": f"Layanan bus malam rute {n} dimulai pekan depan di kota ini.",
            }
            put = httpx.put(f"{url}/articles/{article_id}", json=article, headers=AUTH, timeout=120)
            assert put.status_code in (200, 201), put.text
        stats = httpx.get(f"{url}/stats", timeout=30).json()
        assert datetime.fromisoformat(stats["published_to"]) == later
        assert datetime.fromisoformat(stats["published_from"]) == earlier_text
    finally:
        httpx.post(
            f"{url}/articles/delete", json={"ids": list(articles)}, headers=AUTH, timeout=120
        )


def test_post_search_and_filters_with_several_values(server):
    url = server
    query = "harga dan pasar"
    both = {"category": ["Ekonomi", "pemerintahan"]}
    posted = httpx.post(
        f"{url}/search", json={"q": query, "k": 20, "filters": both}, timeout=60
    ).json()
    got = httpx.get(
        f"{url}/search",
        params=[("q", query), ("k", 20), ("category", "Ekonomi"), ("category", "pemerintahan")],
        timeout=60,
    ).json()
    assert [p["article_id"] for p in posted["passages"]] == [
        p["article_id"] for p in got["passages"]
    ]
    categories = {p["category"] for p in posted["passages"]}
    assert categories == {"Ekonomi", "Pemerintahan"}
    single = httpx.post(
        f"{url}/search", json={"q": query, "k": 20, "filters": {"category": "Ekonomi"}}, timeout=60
    ).json()
    assert {p["category"] for p in single["passages"]} == {"Ekonomi"}
    assert len(single["passages"]) < len(posted["passages"])
    bad = httpx.post(f"{url}/search", json={"q": query, "filters": {"category": []}}, timeout=30)
    assert bad.status_code == 422


def test_ask_batch_gives_the_answers_of_single_requests(server):
    url = server
    questions = [
        "which Palembang programs won 2020 awards",
        "berapa harga cabai rawit di Palembang?",
        "siapa yang memenangkan pertandingan sepak bola?",
    ]
    batch = httpx.post(f"{url}/ask/batch", json={"questions": questions}, timeout=120)
    assert batch.status_code == 200, batch.text
    answers = batch.json()["answers"]
    assert [a["question"] for a in answers] == questions
    for question, answer in zip(questions, answers):
        single = httpx.post(f"{url}/ask", json={"question": question}, timeout=60).json()
        for field in ("answer", "abstained", "short_answers"):
            assert answer[field] == single[field], (question, field)
        assert [(c["article_id"], c["char_start"]) for c in answer["citations"]] == [
            (c["article_id"], c["char_start"]) for c in single["citations"]
        ]
    too_many = httpx.post(f"{url}/ask/batch", json={"questions": ["apa"] * 65}, timeout=30)
    assert too_many.status_code == 422


def detik_shaped(shared_dir, count: int) -> list[dict]:
    """``count`` articles with detik's fields and sentences (read from ../shared, not copied
    here): each takes three consecutive paragraphs-worth of sentences of one real article, no
    two share a sentence, and each keeps its article's title, category, source and date."""
    from indexer.sentences import split_sentences

    out: list[dict] = []
    with open(shared_dir / "data" / "news" / "detik-2025.jsonl", encoding="utf-8") as f:
        for record in map(json.loads, f):
            text = record["text"]
            sentences = [text[a:b].strip() for a, b in split_sentences(text)]
            sentences = [s for s in sentences if len(s) > 40]
            for part, start in enumerate(range(0, len(sentences) - 2, 3)):
                out.append(
                    {
                        **record,
                        "id": f"{record['id']}-p{part}",
                        "title": f"{record['title']} (bagian {part + 1})",
                        "url": f"https://detik.example/{record['id']}/bagian-{part}",
                        "text": " ".join(sentences[start : start + 3]),
                    }
                )
                if len(out) == count:
                    return out
    raise AssertionError(f"detik-2025 gives fewer than {count} articles")


@pytest.mark.slow
def test_five_thousand_articles_in_one_ndjson_request(tmp_path, corpus_index, settings, shared_dir):
    """The acceptance case: 5,000 detik-shaped articles in one NDJSON request are one job that
    reaches done with a result per record and one generation; then 1,000 ids go in one call."""
    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    records = detik_shaped(shared_dir, 5000)
    body = "".join(json.dumps(r) + "\n" for r in records)
    with running_server(
        index_dir,
        settings.cache_dir,
        NEWSQA_ADMIN_TOKEN=TOKEN,
        NEWSQA_RATE_LIMIT_PER_MINUTE="0",
        NEWSQA_WRITE_THREADS="2",
    ) as url:
        before = generation(url)
        articles = httpx.get(f"{url}/stats", timeout=60).json()["articles"]
        started = time.monotonic()
        response = httpx.post(
            f"{url}/articles/bulk",
            content=body.encode("utf-8"),
            headers={**AUTH, "Content-Type": "application/x-ndjson"},
            timeout=120,
        )
        accepted_s = time.monotonic() - started
        assert response.status_code == 202, response.text
        job = wait_for_job(url, response.json()["id"], seconds=1800)
        print(
            f"\n[bulk] {len(body) / 2**20:.1f} MiB NDJSON accepted in {accepted_s:.1f} s; job "
            f"done in {time.monotonic() - started:.0f} s, {job['progress']['chunks_embedded']} "
            "chunks embedded"
        )
        assert job["state"] == "done", job
        assert len(job["items"]) == 5000
        results = {item["result"] for item in job["items"]}
        assert results <= {"added", "duplicate", "rejected"}, results
        rejected = [item for item in job["items"] if item["result"] == "rejected"]
        assert len(rejected) <= 50 and all(item["reason"] for item in rejected), rejected
        added = sum(item["result"] == "added" for item in job["items"])
        assert added >= 4000, f"only {added} added"  # detik repeats some articles word for word
        copies = [item for item in job["items"] if item["result"] == "duplicate"]
        assert all(item["duplicate_of"] for item in copies)
        assert [item["id"] for item in job["items"]] == [r["id"] for r in records]
        assert generation(url) == before + 1 == job["result"]["generation"]
        stats = httpx.get(f"{url}/stats", timeout=60).json()
        assert stats["articles"] == articles + added

        gone = [item["id"] for item in job["items"] if item["result"] == "added"][:1000]
        deleted = httpx.post(
            f"{url}/articles/delete", json={"ids": gone}, headers=AUTH, timeout=600
        )
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["generation"] == before + 2 == generation(url)
        assert set(deleted.json()["deleted"]) == set(gone)
        assert httpx.get(f"{url}/articles/{gone[500]}", timeout=30).status_code == 404
        listed = httpx.get(f"{url}/articles", params={"limit": 1000}, timeout=60).json()
        assert not set(gone) & {a["id"] for a in listed["articles"]}
