"""`newsqa eval --url` against a real server that refuses, times out or goes away: the run stops
naming the question and the status, never scoring a failed request as a miss."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from eval.questions import load_questions
from eval.runner import AskFailedError, http_asker, run_questions
from newsqa.server_process import serve_in_background

QUESTIONS = Path(__file__).resolve().parents[1] / "eval/questions/corpus.jsonl"


@pytest.fixture(scope="module")
def limited_server(corpus_index, settings):
    """A server that takes two questions at once and then one a minute (Retry-After ~60 s)."""
    env = {
        "NEWSQA_CACHE_DIR": str(settings.cache_dir),
        "NEWSQA_RATE_LIMIT_PER_MINUTE": "1",
        "NEWSQA_RATE_LIMIT_BURST": "2",
    }
    with serve_in_background(corpus_index, env) as server:
        yield server


@pytest.fixture(scope="module")
def questions():
    return load_questions(QUESTIONS)[:3]


def test_a_slow_answer_names_the_question_and_the_timeout(limited_server, questions, store):
    ask = http_asker(limited_server.url, timeout=0.001)
    with pytest.raises(AskFailedError) as failed:
        run_questions(questions, ask, store)
    message = str(failed.value)
    assert message.startswith("question 'cq-001': ") and "no answer within 0.001 s" in message


def test_a_rate_limit_beyond_the_wait_allowed_stops_naming_question_and_status(
    limited_server, questions, store
):
    """A 429 whose Retry-After (~60 s) passes what is left of ``max_wait`` fails at once: it was
    slept through up to ten times a question, then raised as httpx's text without the id."""
    started = time.monotonic()
    with pytest.raises(AskFailedError) as failed:
        run_questions(questions, http_asker(limited_server.url, max_wait=5), store)
    message = str(failed.value)
    assert time.monotonic() - started < 20
    assert message.startswith("question 'cq-00"), message
    assert "answered HTTP 429: rate limit" in message and "would pass 5 s" in message


def test_a_server_gone_mid_run_names_the_question(limited_server, questions, store):
    ask = http_asker(limited_server.url, max_wait=0)
    limited_server.proc.terminate()
    limited_server.proc.wait(timeout=30)
    with pytest.raises(AskFailedError) as failed:
        run_questions(questions, ask, store)
    message = str(failed.value)
    assert message.startswith("question 'cq-001': ") and "/ask unreachable: Connect" in message
