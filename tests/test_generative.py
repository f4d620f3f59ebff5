"""The generative answer mode against a model server that misbehaves (tests/helpers/fake_llm.py):
the real LangChain client over HTTP, the real index and model behind the checks."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.outputs import ChatResult

from newsqa.settings import Settings
from service.answer import AnswerBuilder
from service.generative import GenerativeAnswerer, chat_model_from_settings
from tests.helpers.fake_llm import Reply, fake_llm_server

QUESTION = "Apa nama program inovasi Pemkot Palembang yang meraih penghargaan?"


@pytest.fixture(scope="module")
def builder(embedder, settings):
    return AnswerBuilder(embedder, abstain_threshold=settings.abstain_threshold)


@pytest.fixture(scope="module")
def hits(retriever):
    return retriever.retrieve(QUESTION, k=3)


def _answerer(builder: AnswerBuilder, url: str, timeout: float = 30.0) -> GenerativeAnswerer:
    pytest.importorskip("langchain_openai")  # the `llm` extra
    settings = Settings(llm_base_url=url, llm_timeout=timeout)
    return GenerativeAnswerer(
        chat_model_from_settings(settings), extractive=builder, embedder=builder.embedder
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ERROR = '{"error": {"message": "boom", "type": "server_error"}}'
FAILURES = {
    "500": Reply(status=500, body=ERROR),
    "400": Reply(status=400, body=ERROR),
    "401": Reply(status=401, body=ERROR),
    "429 with Retry-After": Reply(status=429, body=ERROR, headers={"Retry-After": "1"}),
    "not JSON": Reply(raw="{not json"),
    "another schema": Reply(raw='{"result": "Poltabes [1]."}'),
    "no choices": Reply(
        raw='{"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}'
    ),
    "no reply in time": Reply(content="Poltabes dan Pangling meraih penghargaan [1].", delay=4),
}


@pytest.mark.parametrize("reply", FAILURES.values(), ids=FAILURES.keys())
def test_a_failing_model_server_gives_the_extractive_answer(builder, hits, reply):
    """Each of these made POST /ask a 500 (the chat model's exception went up to the route)."""
    expected = builder.answer(QUESTION, hits)
    with fake_llm_server([reply]) as llm:
        started = time.monotonic()
        answer = _answerer(builder, llm.url, timeout=1.0).answer(QUESTION, hits)
        elapsed = time.monotonic() - started
    assert (answer.answer, answer.citations) == (expected.answer, expected.citations)
    assert 1 <= len(llm.calls) <= 2  # tried once more at most
    assert elapsed < 10  # one retry of a 1 s timeout, not three tries of 60 s


def test_a_reply_that_trickles_in_is_cut_at_the_timeout(builder, hits):
    """A model server sending a byte every 0.2 s never stays silent for the 1 s timeout: POST
    /ask waited for the whole reply (a minute here, for as long as the server kept sending).
    The timeout is now a deadline for each try's whole reply, then the extractive answer."""
    expected = builder.answer(QUESTION, hits)
    trickling = Reply(content="Poltabes dan Pangling meraih penghargaan [1].", trickle=0.2)
    with fake_llm_server([trickling]) as llm:
        started = time.monotonic()
        answer = _answerer(builder, llm.url, timeout=1.0).answer(QUESTION, hits)
        elapsed = time.monotonic() - started
    assert (answer.answer, answer.citations) == (expected.answer, expected.citations)
    assert len(llm.calls) == 2  # tried once more, cut again
    assert elapsed < 8  # two tries of 1 s, the retry's pause and the extractive answer


def test_an_unreachable_model_server_gives_the_extractive_answer(builder, hits):
    answerer = _answerer(builder, f"http://127.0.0.1:{_closed_port()}/v1", timeout=1.0)
    answer = answerer.answer(QUESTION, hits)
    assert answer.answer == builder.answer(QUESTION, hits).answer


class _RaisingChatModel(BaseChatModel):
    """A chat model whose server is down: what any LangChain chat model does then."""

    @property
    def _llm_type(self) -> str:
        return "raising"

    def _generate(self, messages: Any, stop: Any = None, **kwargs: Any) -> ChatResult:
        raise ConnectionError("model server refused the connection")


def test_a_chat_model_that_raises_gives_the_extractive_answer(builder, hits):
    answerer = GenerativeAnswerer(
        _RaisingChatModel(), extractive=builder, embedder=builder.embedder
    )
    assert answerer.answer(QUESTION, hits).answer == builder.answer(QUESTION, hits).answer


def test_a_well_formed_reply_is_cited_from_the_article(builder, hits, store):
    with fake_llm_server([Reply(content="Poltabes dan Pangling meraih penghargaan [1].")]) as llm:
        answer = _answerer(builder, llm.url).answer(QUESTION, hits)
    assert answer.answer == "Poltabes dan Pangling meraih penghargaan. [1]"
    (citation,) = answer.citations
    text = store.article(citation.article_id).text
    assert text[citation.char_start : citation.char_end] == citation.quote


def _writing(builder: AnswerBuilder, reply: str) -> GenerativeAnswerer:
    return GenerativeAnswerer(
        FakeListChatModel(responses=[reply]), extractive=builder, embedder=builder.embedder
    )


@pytest.mark.parametrize(
    "reply",
    [
        'Harnojoyo berkata: "Penghargaan ini untuk saya pribadi, bukan untuk petugas." [1]',
        'Wali kota berkata "program [1] ini gagal total dan dibatalkan" [1].',
        "Harnojoyo menyebut program itu \u201cgagal total\u201d [1].",
        'Harnojoyo berkata: "Penghargaan ini untuk saya. Bukan untuk petugas." [1]',
    ],
)
def test_a_quotation_the_article_does_not_hold_is_not_answered_as_cited(builder, hits, reply):
    """Close enough in meaning for the support check, these were answered with citation [1]:
    words put in the mouth of a named person, quoted from an article that does not hold them."""
    answer = _writing(builder, reply).answer(QUESTION, hits)
    assert answer.answer == builder.answer(QUESTION, hits).answer


def test_a_quotation_of_the_cited_passage_is_kept(builder, hits):
    reply = 'Poltabes berarti "program layanan tidak boleh berhenti sekolah" [1].'
    answer = _writing(builder, reply).answer(QUESTION, hits)
    assert answer.answer == 'Poltabes berarti "program layanan tidak boleh berhenti sekolah". [1]'


def test_a_reply_of_many_sentences_is_read_up_to_its_first_few(builder, hits):
    """200 cited sentences held the request 36 s (two embedding calls each) and all 200 were
    the answer; a 10 MB reply would have held it for hours."""
    reply = "Poltabes dan Pangling meraih penghargaan [1]. " * 40
    answer = _writing(builder, reply).answer(QUESTION, hits)
    assert answer.answer == "Poltabes dan Pangling meraih penghargaan. [1]"


def test_a_number_the_cited_passage_does_not_hold_is_not_answered_as_cited(builder, hits):
    """The 2022 World Cup passed the support check on the passage about the 2020 awards."""
    reply = "Poltabes dan Pangling meraih penghargaan [1]. Palembang juga memenangkan Piala Dunia 2022 [1]."
    answer = _writing(builder, reply).answer(QUESTION, hits)
    assert answer.answer == "Poltabes dan Pangling meraih penghargaan. [1]"
    reply = "Poltabes dan Pangling meraih penghargaan inovasi tahun 2020 [1]."
    answer = _writing(builder, reply).answer(QUESTION, hits)
    assert answer.answer == "Poltabes dan Pangling meraih penghargaan inovasi tahun 2020. [1]"


@pytest.mark.parametrize(
    ("reply", "answered"),
    [
        (
            "Poltabes dan Pangling meraih penghargaan inovasi (lihat [1]) dari PANRB.",
            "Poltabes dan Pangling meraih penghargaan inovasi dari PANRB. [1]",
        ),
        (
            "Poltabes dan Pangling [1] meraih penghargaan inovasi.",
            "Poltabes dan Pangling meraih penghargaan inovasi. [1]",
        ),
        (
            "Poltabes dan Pangling meraih penghargaan inovasi [1, 1].",
            "Poltabes dan Pangling meraih penghargaan inovasi. [1]",
        ),
    ],
)
def test_markers_leave_no_trace_in_the_answer(builder, hits, reply, answered):
    """A marker inside a sentence left "(lihat )" or a double space; "[1, 1]" was not read
    as a marker at all (its sentence was dropped, or, beside another marker, shown as is)."""
    assert _writing(builder, reply).answer(QUESTION, hits).answer == answered


def test_a_marker_of_several_passages_is_read(builder, hits):
    reply = "Poltabes dan Pangling meraih penghargaan inovasi [1, 99] dari PANRB [1]."
    answer = _writing(builder, reply).answer(QUESTION, hits)
    assert answer.answer == builder.answer(QUESTION, hits).answer  # [99] is no passage


def test_a_batch_stops_calling_a_model_server_that_failed(builder, retriever):
    """A batch of 64 questions made 64 calls (each tried twice, 30 s each) to a server that
    did not answer: POST /ask/batch waited an hour. The rest of the batch is extractive."""
    questions = [QUESTION, "Siapa Wali Kota Palembang?", "Apa itu Pangling?"]
    found = retriever.retrieve_batch(questions, k=3)
    with fake_llm_server([Reply(content="Poltabes [1].", delay=3)]) as llm:
        answers = _answerer(builder, llm.url, timeout=1.0).answer_batch(questions, found)
    assert len(llm.calls) == 2  # the first question's try and its retry, then no more
    expected = builder.answer_batch(questions, found)
    assert [a.answer for a in answers] == [a.answer for a in expected]
