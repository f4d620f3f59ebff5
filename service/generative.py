"""Optional generative answers: a LangChain chat model writes, newsqa checks every citation.

The model sees the retrieved passages numbered [1]..[n] and must cite them. Each sentence it
writes is kept only if it cites at least one passage, every cited number exists, and each cited
passage supports the sentence (cosine of sentence and passage sentence above a floor, or shared
terms). Kept sentences are re-numbered; each citation quotes the passage sentence that best
supports the claim, so quotes remain exact spans of the canonical text; words the model puts
in quotation marks must be words of the passage it cites, and numbers it writes numbers there.
If nothing survives, the extractive answer is returned instead.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from indexer.analyzer import analyze
from indexer.embedder import Embedder
from indexer.sentences import split_sentences
from newsqa.settings import Settings
from service.answer import Answer, AnswerBuilder, Citation
from service.reader_answer import ReaderAnswerBuilder
from service.retrieval import ArticleHit, Passage

if TYPE_CHECKING:  # LangChain's chat models take 0.8 s to import; only a configured LLM needs them
    from langchain_core.language_models.chat_models import BaseChatModel

log = logging.getLogger(__name__)

# A citation marker: [2], or several passages in one, [1, 2] (as models often write them).
_MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?)])")
_EMPTY_BRACKETS = re.compile(r"\(\s*(?:see|lihat)?\s*\)", re.IGNORECASE)
# What a written sentence puts in quotation marks: "..." or “...” (the reader sees either).
_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”')
_QUOTE_EDGE = " \t\n.,;:!?'‘’"
_DIGITS = re.compile(r"\d+")
# A reply is read up to its first _READ_SENTENCES sentences, within its first _READ_CHARS
# characters, and answers with _MAX_SENTENCES of them at most (what the prompt asks for):
# each sentence checked costs two embedding calls, and a model server that sent 200 cited
# sentences held the request 36 s and answered with all 200 (10 MB would have been hours).
_MAX_SENTENCES = 3
_READ_SENTENCES = 8
_READ_CHARS = 4000
_MAX_TOKENS = 400
_SYSTEM = (
    "You answer questions about news using only the numbered passages given. Write at most "
    "three short sentences. End every sentence with the number of the passage that supports "
    "it, like [2]. If the passages do not answer the question, reply exactly: NO ANSWER."
)


def chat_model_from_settings(settings: Settings) -> BaseChatModel:
    """An OpenAI-compatible chat model (needs the `llm` extra: langchain-openai)."""
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise RuntimeError(
            "generative mode needs langchain-openai: pip install 'newsqa[llm]'"
        ) from exc
    return ChatOpenAI(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        temperature=0,
        # One retry (a 5xx, a 429, a dropped connection), each try bounded: the question waits
        # for it, and the openai client's default of three tries at 60 s each held a request
        # for three minutes behind a model server that did not answer. httpx's timeout bounds
        # each wait for bytes, not a whole reply: the client's deadline cuts one that trickles.
        timeout=settings.llm_timeout,
        http_client=_deadline_client(settings.llm_timeout),
        max_retries=1,
        max_completion_tokens=_MAX_TOKENS,  # three short sentences; what is more is not read
    )


def _deadline_client(seconds: float) -> Any:
    """The openai client's own HTTP client, each of whose requests has ``seconds`` for its
    whole reply, from connecting to the last byte of the body. httpx's timeouts bound each
    wait for bytes only: a model server that sent one byte every few seconds held POST /ask
    for as long as it kept sending. At the deadline a timer shuts the request's socket down,
    which ends a read blocked on it; the try fails as a dropped connection does (tried once
    more, then the extractive answer). Each request asks for its own connection ("Connection:
    close"), so the socket the timer shuts is the one this request reads from, never one a
    request of another thread reuses."""
    from openai import DefaultHttpxClient  # httpx or its fork, whichever openai sends with

    class DeadlineClient(DefaultHttpxClient):  # type: ignore[misc,valid-type]
        def send(self, request: Any, **kwargs: Any) -> Any:
            sockets: list[socket.socket] = []
            expired = threading.Event()
            lock = threading.Lock()
            traced = request.extensions.get("trace")

            def trace(event: str, info: dict[str, Any]) -> None:
                if traced is not None:
                    traced(event, info)
                if event == "connection.connect_tcp.complete":
                    sock = info["return_value"].get_extra_info("socket")
                    with lock:
                        sockets.append(sock)
                        if expired.is_set():
                            _shut(sock)

            def expire() -> None:
                log.warning("LLM reply not complete within %g s, cut", seconds)
                with lock:
                    expired.set()
                    for sock in sockets:
                        _shut(sock)

            request.headers["Connection"] = "close"
            request.extensions = {**request.extensions, "trace": trace}
            timer = threading.Timer(seconds, expire)
            timer.daemon = True
            timer.start()
            try:
                response = super().send(request, **kwargs)
                response.read()  # a streamed body too: the deadline is for the whole reply
                return response
            finally:
                timer.cancel()

    return DeadlineClient()


def _shut(sock: socket.socket) -> None:
    """End every read and write on ``sock`` now, whichever thread is blocked in it."""
    with contextlib.suppress(OSError):  # closed already: the reply was complete
        sock.shutdown(socket.SHUT_RDWR)


class GenerativeAnswerer:
    """Writes answers with a chat model over the extractive builder's evidence.

    >>> answerer = GenerativeAnswerer(chat_model, extractive=builder, embedder=embedder)
    """

    def __init__(
        self,
        chat_model: BaseChatModel,
        extractive: AnswerBuilder | ReaderAnswerBuilder,
        embedder: Embedder,
        max_passages: int = 5,
        support_floor: float = 0.80,
        min_shared_terms: float = 0.3,
    ) -> None:
        self.chat_model = chat_model
        self.extractive = extractive
        self.embedder = embedder  # checks that each written sentence is supported
        self.max_passages = max_passages
        self.support_floor = support_floor
        self.min_shared_terms = min_shared_terms

    def describe(self) -> str:
        """How answers are composed, for /ready: the chat model, over the extractive evidence."""
        model = getattr(self.chat_model, "model_name", None) or type(self.chat_model).__name__
        return f"generative ({model}) over {self.extractive.describe()}"

    def answer_batch(
        self,
        questions: Sequence[str],
        hits: Sequence[list[ArticleHit]],
        question_vectors: np.ndarray | None = None,
    ) -> list[Answer]:
        """Same interface as ``AnswerBuilder.answer_batch``; one chat call per question, until
        one fails: the rest of the batch gets the extractive answer without a call (a batch of
        64 questions waited on a model server that did not answer for 64 calls, tried twice)."""
        fallbacks = self.extractive.answer_batch(questions, hits, question_vectors)
        answers: list[Answer] = []
        up = True
        for fallback, found in zip(fallbacks, hits):
            written = self._write(fallback, found) if up else None
            up = written is not None
            answers.append(written or fallback)
        return answers

    def answer(self, question: str, hits: list[ArticleHit]) -> Answer:
        return self.answer_batch([question], [hits])[0]

    def _write(self, fallback: Answer, hits: list[ArticleHit]) -> Answer | None:
        """The written answer, ``fallback`` where nothing written holds, None where the model
        server failed."""
        question = fallback.question
        passages = [p for hit in hits for p in hit.passages[:1]][: self.max_passages]
        if fallback.abstained or not passages:
            return fallback
        from langchain_core.messages import HumanMessage, SystemMessage

        context = "\n\n".join(f"[{i}] {p.chunk.text}" for i, p in enumerate(passages, start=1))
        try:
            reply = self.chat_model.invoke(
                [
                    SystemMessage(_SYSTEM),
                    HumanMessage(f"Passages:\n{context}\n\nQuestion: {question}"),
                ]
            )
        except Exception as exc:  # noqa: BLE001 - another server: its errors, timeouts, replies
            # The model server is another service: an HTTP error, a timeout, a refused
            # connection or a reply that is not a chat completion made POST /ask a 500. The
            # extractive answer is as cited as ever, so the question gets that one.
            log.warning("LLM call failed, answering extractively: %s: %s", type(exc).__name__, exc)
            return None
        text = reply.content if isinstance(reply.content, str) else str(reply.content)
        kept = self._checked_sentences(text, passages)
        if not kept:
            return fallback
        citations: list[Citation] = []
        numbers: dict[tuple[str, int], int] = {}
        parts = []
        for sentence, quotes in kept:
            markers = []
            for passage, start, end in quotes:
                chunk = passage.chunk
                key = (chunk.article_id, chunk.char_start + start)
                if key not in numbers:
                    numbers[key] = len(numbers) + 1
                    citations.append(
                        Citation.of(
                            numbers[key],
                            chunk,
                            chunk.char_start + start,
                            chunk.char_start + end,
                            fallback.confidence,
                        )
                    )
                markers.append(f"[{numbers[key]}]")
            parts.append(f"{sentence} {' '.join(markers)}")
        return Answer.cited(question, parts, citations, hits, fallback.confidence)

    def _checked_sentences(
        self, text: str, passages: list[Passage]
    ) -> list[tuple[str, list[tuple[Passage, int, int]]]]:
        """Sentences with their supporting quotes; unsupported or uncited sentences dropped."""
        if text.strip().upper().startswith("NO ANSWER"):
            return []
        kept = []
        text = text[:_READ_CHARS]
        for start, end in split_sentences(text)[:_READ_SENTENCES]:
            if len(kept) == _MAX_SENTENCES:
                break
            raw = text[start:end]
            cited = [int(n) for group in _MARKER.findall(raw) for n in re.split(r"[,;]", group)]
            claim = _without_markers(raw)
            if not cited or not claim or any(not 1 <= n <= len(passages) for n in cited):
                continue
            if any(claim == earlier for earlier, _ in kept):  # a sentence written twice: once
                continue
            cited_passages = [passages[n - 1] for n in dict.fromkeys(cited)]
            if not _quotations_hold(claim, cited_passages) or not _numbers_hold(
                claim, cited_passages
            ):
                continue
            quotes = [self._support(claim, p) for p in cited_passages]
            if all(q is not None for q in quotes):
                kept.append((claim, [q for q in quotes if q is not None]))
        return kept

    def _support(self, claim: str, passage: Passage) -> tuple[Passage, int, int] | None:
        """The passage sentence that best supports ``claim``, or None if none does."""
        spans = split_sentences(passage.chunk.text)
        if not spans:
            return None
        sentences = [passage.chunk.text[s:e] for s, e in spans]
        embedder = self.embedder
        similarity = embedder.embed_passages(sentences) @ embedder.embed_passages([claim])[0]
        best = int(np.argmax(similarity))
        claim_terms = set(analyze(claim))
        shared = (
            len(claim_terms & set(analyze(sentences[best]))) / len(claim_terms)
            if claim_terms
            else 0
        )
        if similarity[best] < self.support_floor and shared < self.min_shared_terms:
            return None
        return passage, spans[best][0], spans[best][1]


def _without_markers(sentence: str) -> str:
    """``sentence`` without its markers and the gaps they leave: "(see [2])" left "(see )",
    "program [1] ini" two spaces, and "[1, 2]", not read as a marker, stayed in the answer
    beside the renumbered markers, naming citations it did not mean."""
    text = _EMPTY_BRACKETS.sub("", _MARKER.sub("", sentence))
    return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(text.split())).strip()


def _squashed(text: str) -> str:
    return " ".join(text.split()).casefold()


def _quotations_hold(claim: str, passages: list[Passage]) -> bool:
    """Whether every quotation in ``claim`` is words of one of the cited passages.

    A sentence such as `Harnojoyo said "the award is mine alone" [1]` is close enough to a
    passage sentence in meaning for the support check, so it was answered as cited with words
    nobody said; a quotation must be in the passage it cites (case and spacing aside, and the
    punctuation at its ends, which a writer moves). A quotation mark left open (a quotation
    cut by the sentence splitter) cannot be checked, so it fails too.
    """
    if claim.count('"') % 2 or claim.count("\u201c") != claim.count("\u201d"):
        return False
    texts = [_squashed(p.chunk.text) for p in passages]
    for match in _QUOTED.finditer(claim):
        quoted = _squashed(match.group(1) or match.group(2)).strip(_QUOTE_EDGE)
        if quoted and not any(quoted in text for text in texts):
            return False
    return True


def _numbers(text: str) -> set[str]:
    return {run.lstrip("0") or "0" for run in _DIGITS.findall(text)}


def _numbers_hold(claim: str, passages: list[Passage]) -> bool:
    """Whether every number written in ``claim`` is a number of the cited passages.

    A year, a sum or a count is where a close paraphrase is wrong: "Palembang also won the
    2022 World Cup [1]" passed the support check on a passage about Palembang's 2020 awards
    and was answered as cited. Digit runs are compared ("1.500" and "1,500" both hold 1 and
    500), so a number the model rewrites in other digits drops its sentence too.
    """
    written = _numbers(claim)
    return not written or written <= _numbers(" ".join(p.chunk.text for p in passages))
