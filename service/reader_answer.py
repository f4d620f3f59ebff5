"""Short answers read out of the retrieved passages, cited by the sentences that hold them.

The reader (``indexer.reader``) reads the best passages of the best articles in one forward
pass (the best article's in windows of whole sentences, as long as its training passages;
as many passages as two chunks' usual words allow, at most four) and proposes spans, each
with a margin over its window's no-answer score. The composer:

1. keeps the spans whose margin beats the no-answer threshold of the question's language pair
   (question language x passage language: an English question over Indonesian text gets
   smaller margins than an Indonesian one, so one threshold would abstain on most of them)
   by the rank penalty of their article (3.);
2. keeps only spans of the kind asked for (``service.answer_types``): a "when" question gets a
   span that names a time, or no answer; and only spans of passages that name at least one of
   the names and years the question names ("Who won the 1994 FIFA World Cup final in
   Pasadena?" is not answered from a 2023 Liga 3 final that names neither);
   A span inside a dateline's outlet name ("Jakarta, Sumselupdate.com –") answers only a
   question about the source (``service.news_layout``); a common-noun span headed by what
   the question names restates it ("penghargaan ..." for "which programs won awards"); a
   "siapa menteri" question is not answered with a name whose title names another office
   ("Walikota Palembang H. Harnojoyo");
3. answers with the best span, where each article rank below the first costs 0.5 of margin
   (``rank_penalty``): margins alone picked a confident span from a worse-ranked passage too
   often. Chosen by 5-fold cross-validation on 400 facqa-train questions end to end: short-
   answer F1 0.652 with no penalty, 0.713 with 0.5, flat from 0.5 up. The penalty counts
   against the threshold too: a span from the fourth article must beat it by 1.5, so reading
   more passages finds more answers without answering many more questions that have none
   (README, "Composing the answer"). A list question ("which
   programs", "apa saja") whose best span sits in an enumeration spread over sentences
   ("pertama yakni, ...", "Kedua, ...") gets one item from each of its sentences, each read
   with the enumeration's sentences up to it as context; any other list question gets every
   distinct span left, in reading order, unless its best span is a list itself ("Poltabes
   dan Pangling") or, asked for people, its passage lists them with it; a list the reader
   ended one item short ("jati, ..., indigofera" before ", dan sorgum.") gets its last item;
   a question for several people gets each person on their own. A question
   for an abbreviation's long form ("Pangling singkatan dari apa") is answered by the best
   span that its passage spells out, in brackets or in words, whatever its margin
   (``service.abbreviations``);
4. cites, for each short answer, the sentence that holds it (one citation per sentence, so the
   second item of a list, "Kedua, ...", is cited by its own sentence), and writes the answer
   as those sentences with their markers ``[n]``.

Every offset is into the article's canonical text: ``short_answer.text ==
article.text[char_start:char_end]`` and ``citation.quote == article.text[char_start:char_end]``.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from indexer.chunking import TARGET_WORDS, count_words
from indexer.embedder import resolve_model
from indexer.language import question_language, text_language
from indexer.reader import WEIGHTS_PATH
from indexer.reader.runtime import SAME_THRESHOLDS, check_export, resolve
from indexer.reader.spans import LONG_WORD, Reader, Span, weights_problem
from indexer.sentences import sentence_windows, split_sentences
from indexer.store import ChunkRecord
from newsqa.errors import ReaderNotFoundError
from newsqa.settings import BUNDLED_MODEL, Settings
from service.abbreviations import asked_abbreviation, long_form
from service.answer import Answer, Citation, ShortAnswer
from service.answer_types import (
    QuestionType,
    asked_role,
    asked_thing,
    asks_for_named_person,
    asks_yes_no,
    counted_thing,
    counts_of_asked_thing,
    is_count_phrase,
    mentions_any,
    mentions_thing,
    named_as_thing,
    names_a_person,
    question_names,
    question_type,
    question_years,
    restates_question,
    role_before,
    says_all_of,
    span_fits,
)
from service.news_layout import asks_for_source, dateline_outlets, enumeration_around
from service.retrieval import ArticleHit

log = logging.getLogger(__name__)
# A name's short form in brackets right after it: "Penyuluhan Keliling Anak (Pangling)".
_SHORT_NAME = re.compile(r"[ \t]*\([A-Z][\w.&'-]{1,24}\)")
THRESHOLDS_NAME = "thresholds.json"
"""Beside the weights: no-answer thresholds per language pair (``newsqa reader calibrate``)."""


def reader_weights(settings: Settings) -> Path:
    """The weights file the reader loads, whole (``weights_problem``); else
    ``ReaderNotFoundError`` saying what is wrong and how to get it.
    `newsqa serve` asks before it starts: from the app's start-up it was a traceback in the
    log and exit code 3."""
    weights = Path(settings.reader_weights or WEIGHTS_PATH)
    if not weights.is_file():
        raise ReaderNotFoundError(
            f"no reader weights at {weights}: train them (`newsqa reader train`, README "
            "'Answers: the reader'), point NEWSQA_READER_WEIGHTS at them, or set "
            "NEWSQA_ANSWER_MODE=sentences"
        )
    problem = weights_problem(weights)
    if problem is not None:
        raise ReaderNotFoundError(
            f"{problem}: restore them (the shipped ones: `git checkout indexer/reader/weights`), "
            "point NEWSQA_READER_WEIGHTS at whole weights, or set NEWSQA_ANSWER_MODE=sentences"
        )
    return weights


def check_reader_export(settings: Settings) -> None:
    """``ModelBuildError`` where the reader's runtime needs a graph the cache lacks and cannot
    hold (``indexer.reader.runtime.check_export``); `newsqa serve` asks before it starts."""
    encoder = Path(resolve_model(BUNDLED_MODEL, settings.cache_dir))
    check_export(settings.reader_runtime, encoder, reader_weights(settings), settings.cache_dir)


def load_reader_answerer(settings: Settings) -> ReaderAnswerBuilder:
    """The reader over the bundled e5 encoder (its word embeddings are the reader's), with the
    per-pair thresholds calibrated for these weights."""
    weights = reader_weights(settings)
    encoder = resolve_model(BUNDLED_MODEL, settings.cache_dir)
    reader = Reader.from_files(
        encoder, weights, runtime=settings.reader_runtime, cache_dir=settings.cache_dir
    )
    return ReaderAnswerBuilder(
        reader,
        read_thresholds(Path(weights), settings),
        passages_read=settings.reader_passages,
        max_passages=settings.reader_max_passages,
        window_words=settings.reader_window_words,
    )


def calibrated_reading(settings: Settings) -> dict[str, int]:
    """How the reader reads, as far as the no-answer margins depend on it: recorded with the
    thresholds by ``eval.calibrate`` and checked against them at start-up."""
    return {
        "window_words": settings.reader_window_words,
        "passages_read": settings.reader_passages,
        "max_passages": settings.reader_max_passages,
    }


def read_thresholds(weights: Path, settings: Settings) -> dict[str, float]:
    """The calibrated per-pair thresholds beside ``weights``. They hold for the runtime they
    were calibrated with (int8 and torch's autocast shift the margins a little) and for those
    reading nearly the same logits (``SAME_THRESHOLDS``: torch fp32, OpenVINO f32 or bf16),
    reading what they were calibrated reading: the same window length (each window has its
    own no-answer score) and passages (the more read, the likelier a span beats it);
    otherwise a warning."""
    path = weights.with_name(THRESHOLDS_NAME)
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    calibrated_with = data.get("runtime", "torch")
    runtime = resolve(settings.reader_runtime)
    if calibrated_with != runtime and not {calibrated_with, runtime} <= SAME_THRESHOLDS:
        log.warning(
            "reader thresholds in %s were calibrated with the %s runtime, not %s: recalibrate "
            "(README, 'Abstention per language pair') for exact abstention rates",
            path,
            calibrated_with,
            runtime,
        )
    # calibrated before these were recorded: windows unknown, two passages
    before = {"window_words": 0, "passages_read": 2, "max_passages": 2}
    for name, now in calibrated_reading(settings).items():
        if (calibrated := data.get(name, before[name])) != now:
            log.warning(
                "reader thresholds in %s were calibrated with %s=%s, not %s: recalibrate "
                "(README, 'Abstention per language pair') for exact abstention rates",
                path,
                name,
                calibrated,
                now,
            )
    return {pair: float(t) for pair, t in data["thresholds"].items()}


@dataclass(frozen=True)
class _Read:
    """One span of one read passage, with absolute offsets into its article."""

    rank: int  # article rank in the retrieval
    chunk: ChunkRecord
    span: Span
    excess: float
    """Margin over the no-answer threshold of the language pair, less ``rank_penalty`` for
    each article rank below the first: an answer when positive, the best one first."""

    @property
    def start(self) -> int:
        return self.chunk.char_start + self.span.start

    @property
    def end(self) -> int:
        return self.chunk.char_start + self.span.end

    def overlaps(self, other: _Read) -> bool:
        return (
            self.chunk.article_id == other.chunk.article_id
            and self.start < other.end
            and other.start < self.end
        )


def _same_text(a: str, b: str) -> bool:
    a, b = " ".join(a.casefold().split()), " ".join(b.casefold().split())
    return a in b or b in a


class ReaderAnswerBuilder:
    """Answers with spans the reader finds in the retrieved passages, or abstains.

    >>> builder = ReaderAnswerBuilder(Reader.from_files(encoder_dir, weights), {"en-id": 1.2})
    >>> builder.answer("which Palembang programs won 2020 awards", hits).short_answers
    """

    def __init__(
        self,
        reader: Reader,
        thresholds: Mapping[str, float] | None = None,
        passages_read: int = 2,
        max_passages: int = 4,
        passages_per_article: int = 2,
        max_list_items: int = 5,
        spans_per_passage: int = 8,
        rank_penalty: float = 0.5,
        list_span_margin: float = 2.0,
        thing_margin: float = 2.0,
        window_words: int = 108,
    ) -> None:
        if passages_read < 1 or passages_per_article < 1 or max_list_items < 1:
            raise ValueError("passages_read, passages_per_article and max_list_items must be >= 1")
        self.reader = reader
        self.thresholds = dict(thresholds or {})
        self.passages_read = passages_read
        self.max_passages = max(max_passages, passages_read)
        self.passages_per_article = passages_per_article
        self.max_list_items = max_list_items
        self.spans_per_passage = spans_per_passage
        self.rank_penalty = rank_penalty
        self.list_span_margin = list_span_margin
        self.thing_margin = thing_margin
        self.window_words = window_words

    def threshold(self, question_lang: str, passage_lang: str | None) -> float:
        """The no-answer threshold of a language pair ("en-id"); the reader's own (tuned on
        Indonesian questions over Indonesian passages) where the pair was not calibrated."""
        key = f"{question_lang}-{passage_lang or 'id'}"
        return self.thresholds.get(key, self.reader.no_answer_threshold)

    def answer(self, question: str, hits: list[ArticleHit]) -> Answer:
        return self.answer_batch([question], [hits])[0]

    def describe(self) -> str:
        """How answers are composed, for /ready: the runtime that runs here, ``auto`` resolved."""
        return f"reader ({self.reader.runtime})"

    def answer_batch(
        self,
        questions: Sequence[str],
        hits: Sequence[list[ArticleHit]],
        question_vectors: np.ndarray | None = None,  # noqa: ARG002 - the sentence builder's
    ) -> list[Answer]:
        return [self._answer(q, h) for q, h in zip(questions, hits)]

    def read(self, question: str, hits: list[ArticleHit], whole: bool = False) -> list[_Read]:
        """The reader's spans over the best passages, best excess first (all of them, also
        those below the threshold: calibration and eval look at those too).

        Each passage is read in windows of whole sentences of at most ``window_words`` words
        (0: whole), each window with its own no-answer score: the reader was trained on
        FacQA passages of at most 108 words, and over a whole 250-word news chunk it drifts to
        the lead ("Jakarta, Sumselupdate.com - Pemerintah Kota ...") whatever is asked.
        Only the best-ranked article is read in windows: a window of another article, read
        without the rest of its passage, gets a margin the whole passage would not give (a
        bridge's "1.117 meter" for "berapa jumlah halte"). ``whole`` reads every passage
        whole: a list question's items are spread over its sentences, and the list rules
        compare margins across the passage."""
        passages = self.passages(hits, question)
        if not passages:
            return []
        windows = [
            (rank, chunk, lo, hi)
            for rank, chunk in passages
            for lo, hi in (
                sentence_windows(chunk.text, self.window_words)
                if self.window_words and rank == passages[0][0] and not whole
                else [(0, len(chunk.text))]
            )
        ]
        spans = self.reader.read(
            question,
            [chunk.text[lo:hi] for _, chunk, lo, hi in windows],
            top_k=self.spans_per_passage,
        )
        q_lang = question_language(question)
        thresholds = {
            id(chunk): self.threshold(q_lang, text_language([chunk.text])) for _, chunk in passages
        }
        found = [
            _Read(
                rank,
                chunk,
                shifted,
                shifted.margin - thresholds[id(chunk)] - self.rank_penalty * rank,
            )
            for (rank, chunk, lo, _), window_spans in zip(windows, spans)
            for shifted in (replace(s, start=s.start + lo, end=s.end + lo) for s in window_spans)
        ]
        found.sort(key=lambda r: -r.excess)
        return found

    def passages(
        self, hits: list[ArticleHit], question: str | None = None
    ) -> list[tuple[int, ChunkRecord]]:
        """The best passages of the best articles, in retrieval order, each chunk once and
        with its article's rank: the first ``passages_read``, then more while all stay within
        as many chunks' usual words (200 each), at most ``max_passages`` of them.

        The reader's time grows with the words it reads: two news chunks of 200 words cost
        about what four 80-word passages cost, and a short passage ranked third or fourth
        holds the answer often enough to be worth reading (FacQA: 39 words median). News
        questions keep reading two chunks: a third rarely fits.

        With ``question``, only the articles that name at least one of the names and years it
        names are read, if it names any: only they may answer ("Who won the 1994 FIFA World
        Cup final in Pasadena?" is not answered from a 2023 Liga 3 final that names neither).
        A name only one article carries ("Pangling singkatan dari apa") often ranks it fourth
        or fifth, behind articles about the question's other words, where the first two
        chunks would not reach it. It keeps its rank, and its rank penalty: counting ranks
        among the naming articles only answered more constructed negatives (facqa-train
        questions 801-1600: 0.518 abstained before, 0.483 so)."""
        ranked = list(enumerate(hits))
        names = question_names(question) if question else set()
        if names:
            naming = _articles_naming(names, hits)
            ranked = [(rank, hit) for rank, hit in ranked if hit.article_id in naming]
        years = question_years(question) if question else set()
        if years:
            of_years = _articles_of_years(years, hits)
            ranked = [(rank, hit) for rank, hit in ranked if hit.article_id in of_years]
        budget = self.passages_read * TARGET_WORDS
        out: list[tuple[int, ChunkRecord]] = []
        seen: set[tuple[str, int]] = set()
        words = 0
        for rank, hit in ranked:
            for passage in hit.passages[: self.passages_per_article]:
                key = (passage.chunk.article_id, passage.chunk.char_start)
                if key in seen:
                    continue
                words += count_words(passage.chunk.text)
                if len(out) >= self.passages_read and words > budget:
                    return out
                seen.add(key)
                out.append((rank, passage.chunk))
                if len(out) == self.max_passages:
                    return out
        return out

    def candidates(
        self, question: str, hits: list[ArticleHit], asked: QuestionType | None = None
    ) -> list[_Read]:
        """The spans that may answer: of the kind asked for, from passages that name what the
        question names; best excess first, the threshold not applied yet."""
        asked = asked or question_type(question)
        office = asked_role(question) if asked.kind == "person" else None
        named = asked.kind == "person" and asks_for_named_person(question)
        found = self.read(question, hits, whole=asked.is_list)
        chunks = {id(r.chunk): r.chunk for r in found}
        outlets = (
            {}
            if asks_for_source(question)
            else {key: dateline_outlets(c.text) for key, c in chunks.items()}
        )
        return [
            r
            for r in found
            if "\n" not in r.span.text  # an answer never runs over a paragraph break
            and span_fits(asked.kind, r.span.text, asked.unit, r.chunk.text[r.span.end :])
            and not restates_question(question, r.span.text)
            and (office is None or role_before(r.chunk.text, r.span.start) in (None, office))
            and (not named or names_a_person(r.span.text, r.chunk.text[: r.span.start]))
            and not _overlaps_any(r.span, outlets.get(id(r.chunk), []))
        ]

    def enumerated(self, question: str, first: _Read, asked: QuestionType) -> list[_Read]:
        """The other items of the enumeration that ``first`` is an item of, one per sentence
        of it, each the best span of the kind asked for in its sentence, read with the
        enumeration's sentences up to it as context. They pass no threshold: the article's
        "pertama ... kedua ..." vouches for them, and a reader trained on one answer per
        question gives the other items small margins."""
        text = first.chunk.text
        bounds = split_sentences(text)
        own = next((i for i, (s, e) in enumerate(bounds) if s <= first.span.start < e), None)
        items = [] if own is None else enumeration_around(text, bounds, own)
        others = [i for i in items if i != own][: self.max_list_items - 1]
        base = bounds[items[0]][0] if items else 0
        spans = self.reader.read_pairs(
            [question] * len(others),
            [text[base : bounds[i][1]] for i in others],
            top_k=self.spans_per_passage,
            within=[(bounds[i][0] - base, bounds[i][1] - base) for i in others],
        )
        threshold = first.span.margin - first.excess
        found = []
        for sentence_spans in spans:
            fits = (s for s in sentence_spans if span_fits(asked.kind, s.text, asked.unit))
            fit = next(fits, None)
            if fit is not None:
                span = replace(fit, start=fit.start + base, end=fit.end + base)
                item = _Read(first.rank, first.chunk, span, span.margin - threshold)
                found.append(_named_in_full(item))
        return found

    def _answer(self, question: str, hits: list[ArticleHit]) -> Answer:
        started = time.perf_counter()
        if asks_yes_no(question):
            answer = self._evidence(question, hits)
            answer.timings_ms = {"read": round((time.perf_counter() - started) * 1000, 1)}
            return answer
        asked = question_type(question)
        fitting = self.candidates(question, hits, asked)
        timings = {"read": round((time.perf_counter() - started) * 1000, 1)}
        # how sure: the best span of the right kind against the threshold, 0.5 at the threshold
        confidence = _sigmoid(fitting[0].excess) if fitting else 0.0
        abbreviation = asked_abbreviation(question)
        spelled = _spelled_out(fitting, abbreviation) if abbreviation else None
        if spelled:  # the text vouches for it, whatever its margin
            fitting, confidence = [spelled], max(confidence, 0.5)
        else:
            fitting = [r for r in fitting if r.excess > 0]
        if not fitting:
            return Answer(question, None, True, [], hits, confidence, None, timings)
        if not asked.is_list:
            fitting = _the_thing_asked_first(question, asked, fitting, self.thing_margin)
        elif asked.kind != "quantity":
            fitting = [item for r in fitting for item in _items_of_count(r)]
            if not fitting:
                return Answer(question, None, True, [], hits, confidence, None, timings)
        chosen = [fitting[0]]
        if asked.is_list:
            first = _list_of_names(fitting, self.list_span_margin, asked) or fitting[0]
            chosen = [_with_last_item(first, asked)]
        enumerated = self.enumerated(question, chosen[0], asked) if asked.is_list else []
        if enumerated:
            chosen = [_named_in_full(chosen[0]), *enumerated]
        elif asked.is_list and not _names_several(chosen[0], asked):
            for r in fitting[1:]:
                if len(chosen) == self.max_list_items:
                    break
                if not any(r.overlaps(c) or _same_text(r.span.text, c.span.text) for c in chosen):
                    chosen.append(r)
        if asked.is_list and asked.kind == "person":
            chosen = [item for r in chosen for item in _people_of(r)]
        elif asked.kind == "person":
            chosen = [_without_age(r) for r in chosen]
        chosen.sort(key=lambda r: (r.rank, r.start))  # reading order: "pertama", "kedua"
        answer = self._compose(question, chosen, hits, confidence)
        answer.timings_ms = timings
        return answer

    def _evidence(self, question: str, hits: list[ArticleHit]) -> Answer:
        """A yes/no question ("Did Nikita Mirzani cry in court?", "apakah harga beras naik")
        is no span of any passage: the reader, trained on spans, marks whatever is nearest
        ("11 tahun"). Its answer is the first sentence of the passages read that says every
        word it asks about (``says_all_of``), cited, with no short answer; the reader of the
        answer judges it. No such sentence: it abstains. Confidence 0.5: the sentence is
        evidence, not a yes or a no."""
        for _, chunk in self.passages(hits, question):
            for start, end in split_sentences(chunk.text):
                if says_all_of(question, chunk.text[start:end]):
                    absolute = chunk.char_start + start, chunk.char_start + end
                    citation = Citation.of(1, chunk, *absolute, 0.0)
                    return Answer.cited(question, [f"{citation.quote} [1]"], [citation], hits, 0.5)
        return Answer(question, None, True, [], hits, 0.0, None)

    def _compose(
        self, question: str, chosen: list[_Read], hits: list[ArticleHit], confidence: float
    ) -> Answer:
        citations: list[Citation] = []
        shorts: list[ShortAnswer] = []
        parts: list[str] = []
        numbers: dict[tuple[str, int], int] = {}
        for r in chosen:
            start, end = _sentence_around(r.chunk, r.start, r.end)
            key = (r.chunk.article_id, start)
            if key not in numbers:
                numbers[key] = len(numbers) + 1
                n = numbers[key]
                citation = Citation.of(n, r.chunk, start, end, round(r.excess, 4))
                citations.append(citation)
                parts.append(f"{citation.quote} [{n}]")
            shorts.append(
                ShortAnswer(
                    text=r.span.text,
                    n=numbers[key],
                    article_id=r.chunk.article_id,
                    char_start=r.start,
                    char_end=r.end,
                    score=round(r.excess, 4),
                )
            )
        answer = Answer.cited(question, parts, citations, hits, confidence)
        answer.short_answers = shorts
        return answer


_CONJUNCTION_WORD = r"\s(dan|serta|maupun|and|or|atau)\s"
_CONJUNCTION = re.compile(r",\s|" + _CONJUNCTION_WORD, re.IGNORECASE)


def _the_thing_asked_first(
    question: str, asked: QuestionType, fitting: list[_Read], margin: float
) -> list[_Read]:
    """``fitting`` with a span that names the thing the question asks for first, when the
    best span names another and that span is within ``margin`` of it. A count: "how many
    provinces" is answered "31 provinsi", not the reader's first pick "361 kabupaten" of the
    sentence before (``counted_thing``). A "which X": "which bus terminal" is answered
    "Terminal Leuwipanjang", not "Stasiun Bandung" (``named_as_thing``).

    Measured on the train side (news-train, news-train-more, detik-tune, facqa-train), end to
    end at margin 2: 200 count questions short-answer F1 0.563 -> 0.575, 4 answers better and
    none worse; 1,049 "which X" questions 0.593 -> 0.604, 17 better and 4 worse. Replayed over
    the same spans, margin 1 gained less and 3 the same within one answer."""
    best = fitting[0].span.text
    if asked.unit == "count":
        if counted_thing(question, best, _text_after(fitting[0])) != "other":
            return fitting

        def names_it(r: _Read) -> bool:
            return counted_thing(question, r.span.text, _text_after(r)) == "asked"

    elif asked.kind in ("other", "place") and asked.unit in (None, "role", "way"):
        thing = asked_thing(question)
        if not thing or mentions_thing(thing, best):
            return fitting

        def names_it(r: _Read) -> bool:
            span = r.span.text
            return named_as_thing(thing, span) and best.casefold() not in span.casefold()

    else:
        return fitting
    for r in fitting[1:]:
        if r.excess < fitting[0].excess - margin:
            break
        if names_it(r):
            return [r, *(other for other in fitting if other is not r)]
    if asked.unit == "count" and not any(names_it(r) for r in fitting[1:]):
        counted = _count_of_asked_thing(question, asked, fitting[0])
        if counted is not None:
            return [counted, *fitting]
    return fitting


def _count_of_asked_thing(question: str, asked: QuestionType, best: _Read) -> _Read | None:
    """A count of the thing asked in the passage of ``best``, which counts another, when no
    span the reader offers above its threshold counts it (one that does, beyond the margin,
    leaves the reader's order): the one in its sentence, else the passage's first. The reader
    had found the passage that answers, and ranks its counts by where it looks, not by what
    they count ("111 juta angkutan logistik" first and "157 unit Stasiun Pengisian" 42nd for
    "how many charging stations"); a count whose noun is the one the question names after
    "how many" / "berapa" answers, with the best span's margin."""
    text = best.chunk.text
    spans = [
        (s, e)
        for s, e in counts_of_asked_thing(question, text)
        if span_fits(asked.kind, text[s:e], asked.unit, text[e:])
    ]
    if not spans:
        return None
    lo, hi = _sentence_bounds(text, best.span.start)
    s, e = next(((s, e) for s, e in spans if lo <= s < hi), spans[0])
    return _respan(best, s, e)


def _text_after(r: _Read) -> str:
    """The passage text after the span ``r`` (what a count's number is followed by)."""
    return r.chunk.text[r.span.end :]


# What may stand between a count and the names of what it counts: "empat pelaku, yakni A, B".
_NAMING = re.compile(r"[ \t]*(?:,?[ \t]*(?:yakni|yaitu|antara lain|namely)\b,?|:)?[ \t]*", re.I)


def _items_of_count(item: _Read) -> list[_Read]:
    """For a list question not asking how many: ``item``, unless it is a count alone ("dua
    penghargaan", "4 orang"), which says how many and not which. Then the names it is followed
    by, if a list of them follows ("dua penghargaan Top 21 Inovasi Pelayanan Publik dan
    Pelayanan Publik ..."), as one span (the list rules split people); else nothing."""
    if not is_count_phrase(item.span.text):
        return [item]
    text, end = item.chunk.text, item.span.end
    names = _LIST_OF_NAMES.match(text, _NAMING.match(text, end).end(), _sentence_end(text, end))
    return [_named_in_full(_respan(item, names.start(), names.end()))] if names else []


def _names_several(item: _Read, asked: QuestionType) -> bool:
    """A span that is a list itself ("Poltabes dan Pangling"), or, asked for people, the first
    of the people its passage lists ("kelima terdakwa yakni A, B, ... dan E"): that list is
    the answer, and the next spans above the threshold are other facts of the passage (the
    defendants' lawyer), not items."""
    if _CONJUNCTION.search(item.span.text):
        return True
    return asked.kind == "person" and len(_people_of(item)) > 1


_NAME = r"[A-Z0-9][\w.&'-]*(?: [A-Z0-9][\w.&'-]*){0,5}"
# the names after the first of a list: ", Gasibar and Dagizi"
_MORE_NAMES = rf"(?:, {_NAME})*,? (?:dan|serta|maupun|and|&) {_NAME}"
_LIST_OF_NAMES = re.compile(_NAME + _MORE_NAMES)
# What news writes in brackets right after a person's name: an age ("Rizal (34)", "Riska (5
# tahun)") or the name's other form ("Ferlan Juliansyah (FJ)"). A list of people goes on past
# it ("Muhammad Syaripuddin Lubis (25) dan Rizal (34), Indri Permadani (20) dan ..."), and may
# join its people with more than one "dan".
_YEARS_OLD = r"\d{1,3}(?: (?:tahun|thn|th))?"
_AGE = re.compile(rf" \({_YEARS_OLD}\)$")
_AFTER_PERSON = rf"(?: \((?:{_YEARS_OLD}|[A-Z][\w.'-]*(?: [A-Z][\w.'-]*){{0,3}})\))?"
_PERSON = _NAME + _AFTER_PERSON
_MORE_PEOPLE = rf"(?:(?:, {_PERSON})*,? (?:dan|serta|maupun|and|&) {_PERSON})+"
_LIST_OF_PEOPLE = re.compile(_PERSON + _MORE_PEOPLE)
_PERSON_RE = re.compile(_PERSON)


# The item after an enumeration's last comma, up to the next punctuation: a noun phrase of at
# most eight words, not "dan lain-lain" (etc.), not one that a relative clause ("yang ...")
# runs on from, and not a clause that goes on about the list ("dan diyakini akan ...", "dan
# dilaksanakan ...": Indonesian verbs in di-, me-, ber-, ter-).
_LAST_ITEM = re.compile(
    r",? (?:dan|serta|and|&) "
    r"(?!(?:lain-lain|lainnya|sebagainya|seterusnya|others|so on)\b)"
    r"(?!(?:di|me|ber|ter)[a-z]{4,}\b)"
    r"[^\s,.;:!?\"“”()]+(?: (?!yang\b)[^\s,.;:!?\"“”()]+){0,7}"
    r"(?=[,.;:!?\"”]|$)"
)
_HAS_CONJUNCTION = re.compile(_CONJUNCTION_WORD, re.IGNORECASE)


def _with_last_item(item: _Read, asked: QuestionType) -> _Read:
    """For a list question: ``item`` with the last item of its enumeration, when the reader
    ended it one item short ("jati, kepuh, ..., indigofera" before ", dan sorgum."). Only a
    span that lists with commas and no "dan" of its own, only within its sentence, and only if
    the whole still fits the kind asked for. Other questions keep the reader's span: "Kota Tua,
    Museum Adityawarman" for "nama museum tertua" is no list cut short."""
    text, span = item.chunk.text, item.span
    if not asked.is_list or ", " not in span.text or _HAS_CONJUNCTION.search(span.text):
        return item
    last = _LAST_ITEM.match(text, span.end, _sentence_end(text, span.start))
    if last is None:
        return item
    whole = _respan(item, span.start, last.end())
    return whole if span_fits(asked.kind, whole.span.text, asked.unit) else item


def _list_of_names(fitting: list[_Read], margin: float, asked: QuestionType) -> _Read | None:
    """For a list question: a span that is a list of names ("Poltabes dan Pangling", "Lacewa,
    Gasibar and Dagizi"), or asked for people, the first of those its passage lists ("yakni
    A, B, ... dan E"), within ``margin`` of the best answer, from the best passage. The
    reader, trained on one answer per question, often puts one item's long form, or a person
    named near the list ("Pengacara terdakwa, Tuti Wijaya" for "siapa saja terdakwa"), just
    above the list that names them all; the list is the answer to a list question."""
    best = fitting[0]
    lists = [
        r
        for r in fitting
        if r.chunk is best.chunk
        and r.excess >= best.excess - margin
        and (
            _LIST_OF_NAMES.fullmatch(r.span.text)
            or (asked.kind == "person" and len(_people_of(r)) > 1)
        )
    ]
    return max(lists, key=lambda r: r.excess, default=None)


def _spelled_out(found: list[_Read], abbreviation: str) -> _Read | None:
    """The best span that is the long form of ``abbreviation`` its passage spells out
    (``service.abbreviations``), cut to the long form."""
    for r in found:
        spelled = long_form(r.chunk.text, r.span.start, r.span.end, abbreviation)
        if spelled:
            return _respan(r, *spelled)
    return None


def _people_of(item: _Read) -> list[_Read]:
    """The people a span lists ("Richard S Katz dan Peter Mair") or the list of people in its
    sentence that it is one of ("Andi Wijaya" in "kepada Andi Wijaya dan Siti Rahmawati"),
    each a span of its own, for a question asking for several people: each is an answer,
    cited by the same sentence. The reader, trained on one answer per question, often marks
    one name alone. People only: "Departemen Luar Negeri dan Perdagangan" is one name with a
    "dan" in it. An age in brackets is no part of a person's name ("Rizal (34)" is "Rizal").
    A person named again by part of their name starts another list, saying something of some
    of them: "Keempat, yakni A Lubis (25) dan Rizal (34), C (20) dan D (30) serta Lubis dan
    Rizal merupakan narapidana" lists the four, then the two convicts."""
    text, span = item.chunk.text, item.span
    lo, hi = _sentence_bounds(text, span.start)
    around = next(
        (m for m in _LIST_OF_PEOPLE.finditer(text, lo, hi) if m.start() < span.end <= m.end()),
        None,
    )
    if around is None:
        return [item]
    groups: list[list[tuple[int, int, set[str]]]] = [[]]
    for m in _PERSON_RE.finditer(text, min(span.start, around.start()), around.end()):
        name = _AGE.sub("", m.group())
        if not span_fits("person", name):
            continue
        words = set(name.casefold().split())
        if any(words <= other for _, _, other in groups[-1]):
            groups.append([])
        groups[-1].append((m.start(), m.start() + len(name), words))
    listed = [g for g in groups if g]
    if not listed:
        return [item]
    group = next((g for g in reversed(listed) if g[0][0] < span.end), listed[0])
    return [_respan(item, start, end) for start, end, _ in group]


def _without_age(item: _Read) -> _Read:
    """``item`` without the age in brackets that ends it: "Rizal (34)" answers "who" as
    "Rizal"."""
    age = _AGE.search(item.span.text)
    return _respan(item, item.span.start, item.span.start + age.start()) if age else item


def _sentence_bounds(text: str, at: int) -> tuple[int, int]:
    """The sentence holding ``at``: where it starts, and where it ends before its closing
    punctuation (``_sentence_end``)."""
    for start, end in split_sentences(text):
        if start <= at < end:
            return start, start + len(text[start:end].rstrip(".?!…\"'”’»"))
    return 0, len(text)


def _sentence_end(text: str, at: int) -> int:
    """Where the sentence holding ``at`` ends, before its closing punctuation: the names joined
    to a span stop there ("... dan Mohamad Jovan Rizaldi. Tiga di antaranya ..." ends the list
    at "Rizaldi", where a name's word may otherwise end in a dot, "H. Harnojoyo")."""
    return _sentence_bounds(text, at)[1]


def _articles_naming(names: set[str], hits: list[ArticleHit]) -> set[str]:
    """The articles whose headline or retrieved passages name at least one of ``names``. Per
    article, not per passage: a news article names its subject ("Herman Deru") in the lead,
    and the chunk that answers, further down, may only say "Sumsel"."""
    texts: dict[str, list[str]] = {}
    for hit in hits:
        for p in hit.passages:
            texts.setdefault(p.chunk.article_id, []).extend([p.chunk.title, p.chunk.text])
    return {article for article, parts in texts.items() if mentions_any(names, "\n".join(parts))}


def _articles_of_years(years: set[str], hits: list[ArticleHit]) -> set[str]:
    """The articles that may speak of one of ``years``: those published in one, those whose
    headline or retrieved passages name one, and undated ones (a FacQA passage is a snippet of
    an article whose year it leaves out: 192 of the 436 facqa-train questions naming a year do
    not find it in their passage). A dated article that does neither cannot answer for that
    year: "siapa presiden Amerika Serikat tahun 1990" was answered "Donald Trump" from a 2025
    article naming "Amerika Serikat". Each of the 179 train-side news questions naming a year
    (news-train, news-train-more, the corpus set, detik-tune) finds one in the headline, the
    publication year or the text around the answer of its article."""
    found: set[str] = set()
    for hit in hits:
        texts: list[str] = []
        for p in hit.passages:
            published = p.chunk.published
            if published is None or str(published.year) in years:
                found.add(hit.article_id)
            texts.extend([p.chunk.title, p.chunk.text])
        if not years.isdisjoint(question_years("\n".join(texts))):
            found.add(hit.article_id)
    return found


def _named_in_full(item: _Read) -> _Read:
    """``item`` up to the bracketed short name that follows it in its passage, if one does.
    The items of an enumeration are named in full, "Inovasi Penyuluhan Keliling Anak
    (Pangling)": the reader ends some at the long form and some after the bracket, and
    readers of the answer know a program by its short name."""
    bracket = _SHORT_NAME.match(item.chunk.text, item.span.end)
    return _respan(item, item.span.start, bracket.end() if bracket else item.span.end)


def _respan(item: _Read, start: int, end: int) -> _Read:
    """``item`` with its span moved to ``start:end`` of its passage, margin kept."""
    text = item.chunk.text[start:end]
    return replace(item, span=replace(item.span, text=text, start=start, end=end))


def _overlaps_any(span: Span, ranges: list[tuple[int, int]]) -> bool:
    return any(s < span.end and span.start < e for s, e in ranges)


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def _sentence_around(chunk: ChunkRecord, start: int, end: int) -> tuple[int, int]:
    """Absolute offsets of the chunk's sentences that hold ``start:end`` (one, unless the span
    crosses a sentence boundary the splitter saw)."""
    bounds = [(chunk.char_start + s, chunk.char_start + e) for s, e in split_sentences(chunk.text)]
    inside = [(s, e) for s, e in bounds if s < end and start < e]
    if not inside:  # the span sits in whitespace between sentences: quote the span itself
        return start, end
    return _clear_of_long_words(chunk, inside[0][0], max(inside[-1][1], end), start, end)


def _clear_of_long_words(
    chunk: ChunkRecord, first: int, last: int, start: int, end: int
) -> tuple[int, int]:
    """The quote ``first:last`` narrowed around the answer ``start:end`` to stop short of the
    over-long words the reader does not read (``LONG_WORD``): a base64 image or a table scraped
    without spaces has no sentence end, and the one answer "Cik Ujang" was quoted in a 200 KB
    "sentence"."""
    base, text = chunk.char_start, chunk.text
    for word in LONG_WORD.finditer(text, first - base, last - base):
        if base + word.end() <= start:
            first = base + word.end()
        elif base + word.start() >= end:
            last = base + word.start()
            break
    while first < start and text[first - base].isspace():
        first += 1
    while last > end and text[last - base - 1].isspace():
        last -= 1
    return first, last
