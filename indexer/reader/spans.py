"""Reading passages: answer spans with character offsets, span scores and a no-answer score.

A question and a passage go through the encoder as one sequence (``<s> question </s></s>
passage </s>``). A passage longer than one window is cut into overlapping windows (``stride``
tokens shared by neighbours); every window of every passage goes through the model in one
forward pass. A span is any run of passage tokens no longer than ``max_answer_tokens``; its
score is start logit + end logit. The no-answer score of a window is the score of the CLS
span; a passage's no-answer score is the lowest over its windows (the window that holds the
answer is the one that matters). A span is an answer when ``score - no_answer_score`` is above
the threshold tuned on held-out training questions (``Reader.no_answer_threshold``).

Offsets come from the fast tokenizer's offset mapping: ``passage[span.start:span.end] ==
span.text`` always, after whitespace and stray punctuation are trimmed from the ends.

The work per passage is bounded by tokens, not words: a "word" over ``MAX_WORD_CHARS``
characters (a base64 data URI, a scraped table or URL run together) is not read, and a passage
is read in at most ``MAX_WINDOWS`` windows. A 200,000-character word is one word but some
67,000 tokens: it was read in 270 windows, each of their spans widened to the whole word
character by character, and POST /ask had not answered after minutes, at 8 GB.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError

from indexer.openmp import on_openmp_thread
from indexer.reader.model import ExtractiveReader, load_reader, weights_metadata
from indexer.reader.provenance import sha256_file
from indexer.reader.runtime import (
    Forward,
    Runtime,
    TorchForward,
    forward_by_length,
    load_forward,
    resolve,
)

DEFAULT_MAX_LENGTH = 384
DEFAULT_STRIDE = 128
MAX_QUESTION_TOKENS = 64
MAX_ANSWER_TOKENS = 30
WINDOW_CANDIDATES = 20
MAX_WORD_CHARS = 100
"""A longer run of non-space characters is left out of what the reader reads (no answer can
lie in it): the longest word of detik-2025 is an 80-character URL, of the FacQA passages 30."""
MAX_WINDOWS = 8
"""Windows read per passage at most (about 2,000 passage tokens): the passages the service reads
have at most 250 words (a chunk) and take one to three windows."""
LONG_WORD = re.compile(rf"\S{{{MAX_WORD_CHARS + 1},}}")
"""A run of non-space characters longer than ``MAX_WORD_CHARS``."""

# Trimmed from a span's ends. '?' and '!' stay (titles end with them), a leading '-' stays (a
# negative number); brackets and quotes go only when unbalanced inside the span.
_LEAD_STRIP = set(",.;:…–—/|·•*")
_TRAIL_STRIP = set(",.;:…-–—/|·•*")
_PAIRS = {"(": ")", "[": "]", "{": "}", "“": "”", "‘": "’", "«": "»"}
_CLOSERS = {v: k for k, v in _PAIRS.items()}
_SYMMETRIC_QUOTES = set("\"'")


@dataclass(frozen=True)
class Span:
    """One candidate answer in one passage: ``passage[start:end] == text``."""

    text: str
    start: int
    end: int
    score: float
    """Start logit + end logit of the span."""
    no_answer_score: float
    """Start + end logit of the CLS position (the passage's lowest over its windows)."""

    @property
    def margin(self) -> float:
        """How much the span beats no answer; an answer when above the threshold."""
        return self.score - self.no_answer_score


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen ``text[start:end]`` to whole words (``_whole_words``), narrow it until its ends
    carry no whitespace or stray punctuation, then balance its brackets and quotes
    (``_balance``)."""
    start, end = _trim_ends(text, *_whole_words(text, start, end))
    balanced = _balance(text, start, end)
    return _trim_ends(text, *balanced) if balanced != (start, end) else balanced


def _joins(text: str, i: int) -> bool:
    """Whether ``text[i - 1]`` and ``text[i]`` belong to one word or number ("stations",
    "2,5")."""
    if i <= 0 or i >= len(text):
        return False
    before, after = text[i - 1], text[i]
    if before.isalnum() and after.isalnum():
        return True
    # a hyphen after a letter joins a word ("ke-1", "Covid-19", "anak-anak": a span "-1 MP I"
    # was cut out of "ke-1 MP I"); between digits it is a range ("2020-2021") and stays out
    if after == "-" and before.isalpha():
        return i + 1 < len(text) and text[i + 1].isalnum()
    if before == "-" and after.isalnum():
        return i >= 2 and text[i - 2].isalpha()
    # a number's "." or "," with a digit on each side belongs to the number
    if after in ".," and before.isdigit():
        return i + 1 < len(text) and text[i + 1].isdigit()
    return before in ".," and after.isdigit() and i >= 2 and text[i - 2].isdigit()


def _whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """The span's ends moved out to the ends of the words they cut. A span ends where a
    subword token ends, and a reader trained on whole-word answers still ends some inside a
    word: "seven underground station" of "stations", "Menteri Perindustria" of
    "Perindustrian"."""
    while _joins(text, start):
        start -= 1
    while _joins(text, end):
        end += 1
    return start, end


def _trim_ends(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end:
        before = (start, end)
        while start < end and (text[start].isspace() or text[start] in _LEAD_STRIP):
            start += 1
        while end > start and (text[end - 1].isspace() or text[end - 1] in _TRAIL_STRIP):
            end -= 1
        if start >= end:
            break
        span = text[start:end]
        first, last = span[0], span[-1]
        if first in _PAIRS and _PAIRS[first] not in span[1:]:
            start += 1
        elif last in _CLOSERS and _CLOSERS[last] not in span[:-1]:
            end -= 1
        elif first in _SYMMETRIC_QUOTES and span.count(first) % 2 == 1:
            start += 1
        elif last in _SYMMETRIC_QUOTES and span.count(last) % 2 == 1:
            end -= 1
        if (start, end) == before:
            break
    return start, end


# A right single quote between letters is an apostrophe ("Ma’ruf Amin", "Jum’at").
_APOSTROPHE = re.compile(r"(?<=\w)’(?=\w)")


def _balance(text: str, start: int, end: int, reach: int = 60) -> tuple[int, int]:
    """A span that closes a bracket or quote it did not open, or opens one it does not close,
    inside it: the tokens stop short ("Program Layanan ... (Poltabes") or start inside an
    aside ("program keluarga harapan) dan BPNT (bantuan pangan non tunai)", of "PKH (program
    keluarga harapan) dan BPNT (...)"). The passage's own bracket is taken in when it is near
    (``reach`` characters, same paragraph), with the word the opening bracket follows; else
    the span is cut at the stray one. No gold answer of the train-side sets (4,264) is
    unbalanced."""
    for opener, closer in _PAIRS.items():
        span = _APOSTROPHE.sub("'", text[start:end])  # "Ma’ruf": no closing quote
        depth, stray_closer = 0, None
        for i, ch in enumerate(span):
            if ch == opener:
                depth += 1
            elif ch == closer and depth == 0:
                stray_closer = i
                break
            elif ch == closer:
                depth -= 1
        if stray_closer is not None:
            o = text.rfind(opener, max(0, start - reach), start)
            if o >= 0 and closer not in text[o + 1 : start] and "\n" not in text[o:start]:
                word = re.search(r"[^\s()]+[ \t]*$", text[max(0, o - reach) : o])
                start = o - len(word.group()) if word else o
            else:
                start += stray_closer + 1
        span = _APOSTROPHE.sub("'", text[start:end])
        if span.count(opener) > span.count(closer):
            c = text.find(closer, end, end + reach)
            if c >= 0 and "\n" not in text[end:c] and opener not in text[end:c]:
                end = c + 1
            elif (stray_opener := span.rindex(opener)) == 0:
                start += 1
            else:
                end = start + stray_opener
    span = text[start:end]
    if span.count('"') % 2 == 1:  # straight quotes: which one is stray by what it touches
        q = span.rindex('"')
        if q + 1 < len(span) and span[q + 1].isalnum():  # opens, and is not closed
            c = text.find('"', end, end + reach)
            end = c + 1 if c >= 0 and "\n" not in text[end:c] else start + q
        else:  # closes what it did not open
            q = span.index('"')
            o = text.rfind('"', max(0, start - reach), start)
            start = o if o >= 0 and "\n" not in text[o:start] else start + q + 1
    return start, end


@dataclass(frozen=True)
class Readable:
    """What the reader reads of a passage: the passage without its over-long words
    (``MAX_WORD_CHARS``), and the way back to the passage's offsets."""

    text: str
    cuts: tuple[int, ...] = ()
    """Where in ``text`` each left-out word was, in order."""
    removed: tuple[int, ...] = ()
    """Characters left out up to and including each cut."""

    @classmethod
    def of(cls, passage: str) -> Readable:
        if len(passage) <= MAX_WORD_CHARS or not LONG_WORD.search(passage):
            return cls(passage)
        parts: list[str] = []
        cuts: list[int] = []
        removed: list[int] = []
        at = gone = 0
        for m in LONG_WORD.finditer(passage):
            parts.append(passage[at : m.start()])
            gone += m.end() - m.start()
            cuts.append(m.start() - (gone - (m.end() - m.start())))
            removed.append(gone)
            at = m.end()
        parts.append(passage[at:])
        return cls("".join(parts), tuple(cuts), tuple(removed))

    def start(self, i: int) -> int:
        """The passage offset of the character at ``i`` of ``text`` (one after a left-out
        word stands after it)."""
        k = bisect.bisect_right(self.cuts, i)
        return i + (self.removed[k - 1] if k else 0)

    def end(self, i: int) -> int:
        """The passage offset of the end ``i`` of ``text`` (an end at a left-out word stands
        before it)."""
        k = bisect.bisect_left(self.cuts, i)
        return i + (self.removed[k - 1] if k else 0)


def cut_question(tokenizer, question: str, max_tokens: int = MAX_QUESTION_TOKENS) -> str:
    """The question, cut after ``max_tokens`` tokens (the passage needs room in the window)."""
    enc = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    if len(offsets) <= max_tokens:
        return question
    return question[: offsets[max_tokens - 1][1]]


def encode_pairs(
    tokenizer,
    questions: Sequence[str],
    passages: Sequence[str],
    max_length: int = DEFAULT_MAX_LENGTH,
    stride: int = DEFAULT_STRIDE,
    padding: bool | str = "longest",
):
    """Windows of (question, passage) pairs: a BatchEncoding with ``offset_mapping`` and
    ``overflow_to_sample_mapping``; ``sequence_ids(i)`` tells passage tokens (1) apart."""
    cut = {q: cut_question(tokenizer, q) for q in dict.fromkeys(questions)}
    questions = [cut[q] for q in questions]
    return tokenizer(
        list(questions),
        list(passages),
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=padding,
        return_tensors=None,
    )


def context_mask(encoding, n_windows: int, length: int) -> torch.Tensor:
    mask = torch.zeros((n_windows, length), dtype=torch.bool)
    for w in range(n_windows):
        ids = encoding.sequence_ids(w)
        mask[w, : len(ids)] = torch.tensor([s == 1 for s in ids])
    return mask


class Reader:
    """Extractive QA over passages with the trained reader model.

    >>> reader = Reader.from_files(encoder_dir, weights_path)
    >>> reader.read("Siapa wali kota Palembang?", [passage_1, passage_2])[0][0].text
    """

    def __init__(
        self,
        model: ExtractiveReader | None,
        tokenizer,
        max_length: int = DEFAULT_MAX_LENGTH,
        stride: int = DEFAULT_STRIDE,
        no_answer_threshold: float = 0.0,
        forward: Forward | None = None,
        runtime: str = "torch",
    ) -> None:
        """``forward`` runs the model (``indexer.reader.runtime``); without it, ``model`` in
        torch fp32. ``runtime`` names what runs it, for /ready."""
        if forward is None and model is None:
            raise ValueError("the reader needs a model or a forward pass")
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("the reader needs a fast tokenizer (offset mapping)")
        if not 0 <= stride < max_length // 2:
            raise ValueError(f"stride must be in [0, max_length / 2), got {stride}")
        self.forward: Forward = forward or TorchForward(model)  # type: ignore[arg-type]
        self.runtime = runtime
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.stride = stride
        self.no_answer_threshold = no_answer_threshold
        self.length_fill = 0.9
        """How alike in length the windows of one forward pass are (``forward_by_length``;
        0: every window in one pass, padded to the longest, as before: the bench's baseline)."""
        self.last_timings_ms: dict[str, float] = {}
        self._tokenizer_lock = threading.Lock()

    @classmethod
    def from_files(
        cls,
        encoder_dir: str | Path,
        weights_path: str | Path,
        manifest_path: str | Path | None = None,
        runtime: Runtime = "torch",
        cache_dir: str | Path | None = None,
        **kwargs,
    ) -> Reader:
        """The shipped reader: weights over the encoder folder's word embeddings; the
        no-answer threshold and window length from the manifest beside the weights
        (``<weights>.json`` or ``manifest.json``) unless given. ``runtime="onnx-int8"`` keeps
        its int8 export in ``cache_dir`` (``indexer.reader.runtime``)."""
        from transformers import AutoTokenizer

        weights_path = Path(weights_path)
        manifest = read_manifest(weights_path, manifest_path)
        tuned = manifest.get("tuned", {}) if manifest else {}
        settings = manifest.get("settings", {}) if manifest else {}
        kwargs.setdefault("no_answer_threshold", float(tuned.get("no_answer_threshold", 0.0)))
        kwargs.setdefault("max_length", int(settings.get("max_length", DEFAULT_MAX_LENGTH)))
        kwargs.setdefault("stride", int(settings.get("doc_stride", DEFAULT_STRIDE)))
        if runtime != "torch" and cache_dir is None:
            raise ValueError(f"the {runtime} runtime needs a cache_dir for its export")
        forward = on_openmp_thread(
            load_forward,
            runtime,
            Path(encoder_dir),
            weights_path,
            Path(cache_dir or "."),
            lambda: load_reader(encoder_dir, weights_path),
        )
        tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
        return cls(None, tokenizer, forward=forward, runtime=resolve(runtime), **kwargs)

    def is_answer(self, span: Span) -> bool:
        return span.margin > self.no_answer_threshold

    def read(
        self,
        question: str,
        passages: Sequence[str],
        max_answer_tokens: int = MAX_ANSWER_TOKENS,
        top_k: int = 3,
    ) -> list[list[Span]]:
        """Per passage, its ``top_k`` best spans, best first (empty for an empty passage).
        All windows of all passages go through the model together, in one forward pass per
        group of about one length (``forward_by_length``)."""
        return self.read_pairs(
            [question] * len(passages), passages, max_answer_tokens=max_answer_tokens, top_k=top_k
        )

    # Over 50 lines on purpose: every window of every pair through the model once, then the spans
    # mapped back; kept together so no window is read twice.
    def read_pairs(
        self,
        questions: Sequence[str],
        passages: Sequence[str],
        max_answer_tokens: int = MAX_ANSWER_TOKENS,
        top_k: int = 3,
        within: Sequence[tuple[int, int] | None] | None = None,
    ) -> list[list[Span]]:
        """``read`` for (question, passage) pairs: all their windows read together.

        ``within`` gives, per pair, a character range of the passage that the spans must lie
        in (``None``: anywhere): the passage around it is read as context. The second item of
        a list is found this way, read beside the first."""
        if len(questions) != len(passages) or (within is not None and len(within) != len(passages)):
            raise ValueError("questions, passages and within must pair up")
        if max_answer_tokens < 1:
            raise ValueError(f"max_answer_tokens must be at least 1, got {max_answer_tokens}")
        if not passages:
            return []
        started = time.perf_counter()
        readable = [Readable.of(p) for p in passages]
        enc = self.encode(questions, [r.text for r in readable])
        length = len(enc["input_ids"][0])
        ctx = context_mask(enc, len(enc["input_ids"]), length)
        if within is not None:
            _restrict(ctx, enc, within, readable)
        sample_of = enc["overflow_to_sample_mapping"]
        kept = _first_windows(sample_of, MAX_WINDOWS)
        n, ctx, sample_of = len(kept), ctx[kept], [sample_of[w] for w in kept]
        ids = torch.tensor([enc["input_ids"][w] for w in kept], dtype=torch.long)
        mask = torch.tensor([enc["attention_mask"][w] for w in kept], dtype=torch.long)
        window_offsets = [enc["offset_mapping"][w] for w in kept]
        tokenized = time.perf_counter()
        start_logits, end_logits = on_openmp_thread(
            forward_by_length, self.forward, ids, mask, self.length_fill
        )
        forwarded = time.perf_counter()
        null = (start_logits[:, 0] + end_logits[:, 0]).tolist()
        top_scores, top_index = _best_spans(start_logits, end_logits, ctx, max_answer_tokens)
        results: list[dict[tuple[int, int], float]] = [{} for _ in passages]
        no_answer = [float("inf")] * len(passages)
        for w in range(n):
            p = sample_of[w]
            text, read = passages[p], readable[p]
            no_answer[p] = min(no_answer[p], null[w])
            offsets = window_offsets[w]
            for score, index in zip(top_scores[w].tolist(), top_index[w].tolist()):
                if score == float("-inf"):
                    break
                s_tok, e_tok = divmod(index, length)
                s_read, e_read = offsets[s_tok][0], offsets[e_tok][1]
                start, end = read.start(s_read), read.end(e_read)
                if end - start != e_read - s_read:  # across a word left out: not read whole
                    continue
                start, end = trim_span(text, start, end)
                if start >= end:
                    continue
                key = (start, end)
                if score > results[p].get(key, float("-inf")):
                    results[p][key] = score
        out = []
        for p, found in enumerate(results):
            ranked = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
            out.append(
                [
                    Span(passages[p][s:e], s, e, float(score), float(no_answer[p]))
                    for (s, e), score in ranked
                ]
            )
        self.last_timings_ms = {
            "tokenize": (tokenized - started) * 1000,
            "forward": (forwarded - tokenized) * 1000,
            "spans": (time.perf_counter() - forwarded) * 1000,
            "windows": float(n),
        }
        return out

    def encode(self, questions: Sequence[str], passages: Sequence[str]):
        """The windows of the pairs (``encode_pairs``), one caller at a time: a fast tokenizer
        keeps padding and truncation on its shared Rust object and every call sets them, so a
        concurrent call (the service reads in a thread pool) could leave a batch unpadded."""
        with self._tokenizer_lock:
            return encode_pairs(self.tokenizer, questions, passages, self.max_length, self.stride)


def _restrict(
    ctx: torch.Tensor,
    encoding,
    within: Sequence[tuple[int, int] | None],
    readable: Sequence[Readable],
) -> None:
    """Keep in ``ctx`` only the passage tokens inside each pair's character range."""
    for w, p in enumerate(encoding["overflow_to_sample_mapping"]):
        if within[p] is None:
            continue
        lo, hi = within[p]
        read = readable[p]
        offsets = encoding["offset_mapping"][w]
        ctx[w, : len(offsets)] &= torch.tensor(
            [lo <= read.start(s) and read.end(e) <= hi for s, e in offsets]
        )


def _first_windows(sample_of: Sequence[int], most: int) -> list[int]:
    """The windows to read: each passage's first ``most`` (the tokenizer gives a passage's
    windows in order)."""
    seen: dict[int, int] = {}
    kept = []
    for w, p in enumerate(sample_of):
        seen[p] = seen.get(p, 0) + 1
        if seen[p] <= most:
            kept.append(w)
    return kept


def _best_spans(
    start_logits: torch.Tensor,
    end_logits: torch.Tensor,
    ctx: torch.Tensor,
    max_answer_tokens: int,
    k: int = WINDOW_CANDIDATES,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per window, the ``k`` best (start, end) pairs of passage tokens with ``start <= end <
    start + max_answer_tokens``: scores (-inf where fewer) and flat indices ``s * L + e``."""
    n, length = start_logits.shape
    neg = torch.tensor(float("-inf"))
    start = torch.where(ctx, start_logits.float(), neg)
    end = torch.where(ctx, end_logits.float(), neg)
    scores = start[:, :, None] + end[:, None, :]
    pos = torch.arange(length)
    width = pos[None, :] - pos[:, None]
    band = (width >= 0) & (width < max_answer_tokens)
    scores = scores.masked_fill(~band, float("-inf"))
    return scores.view(n, -1).topk(min(k, length * length), dim=1)


def read_manifest(weights_path: str | Path, manifest_path: str | Path | None = None) -> dict | None:
    weights_path = Path(weights_path)
    candidates = (
        [Path(manifest_path)]
        if manifest_path is not None
        else [weights_path.with_suffix(".json"), weights_path.with_name("manifest.json")]
    )
    for path in candidates:
        if path.is_file():
            return json.loads(path.read_text())
    return None


def weights_problem(weights_path: str | Path) -> str | None:
    """Why the reader weights at ``weights_path`` would not load as trained, naming the file;
    None where they are whole. Against the size and SHA-256 their manifest records (about
    30 ms for the shipped 43 MB), else against their own safetensors header: a file cut short
    failed the first load in a 170-line SafetensorError traceback ("incomplete metadata"),
    and one changed since its manifest loaded other weights than the thresholds were
    calibrated for."""
    weights_path = Path(weights_path)
    try:
        manifest = read_manifest(weights_path) or {}
        recorded = manifest.get("weights") or {}
        if recorded.get("file") == weights_path.name:  # the manifest is this file's
            size = weights_path.stat().st_size
            if "bytes" in recorded and size != recorded["bytes"]:
                return (
                    f"{weights_path} has {size} bytes where its manifest records "
                    f"{recorded['bytes']} (cut short or replaced)"
                )
            if "sha256" in recorded and sha256_file(weights_path) != recorded["sha256"]:
                return f"{weights_path} changed since training (its SHA-256 is not its manifest's)"
            return None
        weights_metadata(weights_path)  # reads and checks the header, as a load would
    except (OSError, ValueError, AttributeError) as exc:
        return f"the reader weights {weights_path} or their manifest cannot be read: {exc}"
    except SafetensorError as exc:
        return f"{weights_path} is not whole safetensors weights: {exc}"
    return None
