"""Writes under read load: 8 clients ask while 100 articles are added and 25 deleted (the
writes run in the niced write worker, so under this read load each takes its turn slowly)."""

from __future__ import annotations

import json
import shutil
import threading
import time

import httpx
import pytest
from conftest import running_server

TOKEN = "load-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ADDS, DELETES, CLIENTS, BATCH = 100, 25, 8, 4  # 25 POSTs of 4 articles, 25 DELETEs


def detik_articles(shared_dir, n: int) -> list[dict]:
    """The first ``n`` detik articles with distinct URLs (real news, read at test time)."""
    seen, out = set(), []
    for line in (shared_dir / "data" / "news" / "detik-2025.jsonl").open():
        record = json.loads(line)
        if record["url"] not in seen:
            seen.add(record["url"])
            out.append({**record, "id": f"load-{record['id']}"})
        if len(out) == n:
            return out
    raise AssertionError("not enough distinct articles")


@pytest.mark.slow
def test_reads_stay_correct_while_articles_come_and_go(
    tmp_path, corpus_index, settings, shared_dir
):
    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    articles = detik_articles(shared_dir, ADDS)
    questions = [a["title"] for a in articles] + ["which Palembang programs won 2020 awards"]
    errors: list[str] = []
    answers: list[tuple[float, set[str]]] = []  # (request start, cited or listed ids)
    deleted_at: dict[str, float] = {}  # id -> when its DELETE returned
    done = threading.Event()

    with running_server(  # every client here is 127.0.0.1: no per-client rate or share
        index_dir,
        settings.cache_dir,
        NEWSQA_ADMIN_TOKEN=TOKEN,
        NEWSQA_RATE_LIMIT_PER_MINUTE="0",
        NEWSQA_MAX_IN_FLIGHT_PER_CLIENT="0",
    ) as url:

        def writer() -> None:
            with httpx.Client(base_url=url, headers=AUTH, timeout=120) as client:
                try:
                    for i in range(0, ADDS, BATCH):
                        response = client.post("/articles", json=articles[i : i + BATCH])
                        if response.status_code != 201:
                            errors.append(f"POST {response.status_code} {response.text[:200]}")
                        # one delete per batch, of an article added and answerable before
                        victim = articles[i + 1]["id"]
                        response = client.delete(f"/articles/{victim}")
                        if response.status_code != 200:
                            errors.append(f"DELETE {response.status_code}")
                        deleted_at[victim] = time.monotonic()
                finally:
                    done.set()

        def reader(seed: int) -> None:
            with httpx.Client(base_url=url, timeout=120) as client:
                i = seed
                while not done.is_set():
                    started = time.monotonic()
                    question = questions[(i * 7) % len(questions)][:1000]
                    response = client.post("/ask", json={"question": question, "k": 5})
                    i += 1
                    if response.status_code != 200:
                        errors.append(f"ask {response.status_code} {response.text[:200]}")
                        continue
                    body = response.json()
                    ids = {c["article_id"] for c in body["citations"]}
                    ids |= {p["article_id"] for p in body["passages"]}
                    answers.append((started, ids))

        threads = [threading.Thread(target=writer)]
        threads += [threading.Thread(target=reader, args=(s,)) for s in range(CLIENTS)]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=900)
        assert not any(t.is_alive() for t in threads), "load test did not finish in 15 min"
        ready = httpx.get(f"{url}/ready").json()

    stale = [
        (article_id, started)
        for started, ids in answers
        for article_id in ids
        if article_id in deleted_at and started > deleted_at[article_id]
    ]
    print(
        f"[reindex-load] {len(answers)} answers from {CLIENTS} clients during {ADDS} adds and "
        f"{len(deleted_at)} deletes in {time.monotonic() - began:.0f} s; errors: {len(errors)}; "
        f"answers citing a deleted article after its DELETE: {len(stale)}"
    )
    assert errors == []
    assert len(deleted_at) == DELETES
    assert stale == []
    assert len(answers) > CLIENTS
    assert any(ids & {a["id"] for a in articles} for _, ids in answers)  # new ones were served
    assert ready["articles"] >= ADDS - DELETES
