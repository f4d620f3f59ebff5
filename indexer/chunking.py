"""Articles -> sentence-aware, overlapping passages (``Chunk``) with exact character offsets.

How chunks are built
--------------------
1. ``indexer.sentences.split_sentences`` gives the sentence spans of ``article.text`` (the same
   splitter the answer module uses to quote, so chunk edges and quotable sentences agree).
2. A sentence longer than ``max_words`` is cut, at whitespace, into nearly equal word pieces of
   at most ``target_words`` words; this is the only place a chunk edge can fall inside a
   sentence.
3. The units (sentences / pieces) are packed greedily: a chunk grows until it holds at least
   ``target_words`` words without exceeding ``max_words``.  If the rest of the article fits in
   ``max_words`` it all goes into one chunk (so an article shorter than ``target_words`` is one
   chunk), and when only a little more than one chunk's worth is left the target is lowered to
   share the words evenly instead of leaving a tiny tail chunk.
4. The next chunk starts with the last whole sentences of the previous one: the suffix whose
   word count is closest to ``overlap_words`` (at most twice that, and always leaving room
   for new text).
5. ``char_start``/``char_end`` are the start of the first unit and the end of the last one, and
   ``Chunk.text`` is the slice ``article.text[char_start:char_end]``, so the identity
   ``article.text[c.char_start:c.char_end] == c.text`` holds by construction.

Words are whitespace-separated tokens (``str.split()``), except that a run of more than
``LONG_RUN`` characters without whitespace (base64, a hex dump, a table flattened without
spaces) counts as one word per ``RUN_WORD_CHARS`` characters, cut at those bounds: a word
limit alone let a 200,000-character run be one 200 KB chunk, returned whole by /search. No
word of the news sets comes near (the longest, a URL, has 80 characters), so their chunks
are unchanged.

Why not langchain-text-splitters
--------------------------------
The style guide suggests ``RecursiveCharacterTextSplitter``.  It was tried on
``shared/data/news/detik-2025.jsonl`` (1000 articles) with a word-count ``length_function``,
``chunk_size=250``, ``chunk_overlap=40``, ``add_start_index=True``, ``keep_separator="end"`` and
regex separators ``["\\n", r"(?<=[.?!])\\s+", " "]`` (also plain ``["\\n\\n", "\\n", ". ", " "]``),
and rejected because:

* offsets are not exact: ``create_documents`` recovers ``start_index`` with
  ``text.find(chunk, previous_start + len(previous_chunk) - chunk_overlap)``, subtracting the
  overlap in *length-function units* (40 words) from a *character* position.  For every chunk
  that really overlaps its predecessor the search begins after the chunk's true start and
  returns -1 (690 of 2161 chunks), and ``find`` can also land on an earlier duplicate of
  repeated text;
* the overlap is not whole-sentence: merging happens per recursion level, so short paragraphs
  are merged with paragraph-sized overlap (usually none: 461 of 471 located consecutive pairs
  shared no text), and pieces of an oversized paragraph never overlap chunks from the
  neighbouring paragraphs;
* Python's ``re`` lookbehind is fixed-width, so a separator regex cannot express the
  abbreviation rules (``H.``, ``Dr.``, ``S.H.``, ``Rp.`` ...) of ``indexer.sentences``.

Packing the spans from ``indexer.sentences`` directly is simpler, exact and deterministic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from indexer.documents import Article, Chunk
from indexer.sentences import split_sentences

__all__ = ["LONG_RUN", "RUN_WORD_CHARS", "TARGET_WORDS", "Chunker", "count_words"]

_WORD = re.compile(r"\S+")
LONG_RUN = 100
"""Characters without whitespace above which a run counts as several words."""
RUN_WORD_CHARS = 8
"""Characters of such a run that count as one word (a word and its space, in the news):
a ``max_words`` chunk of one holds at most 2,000 of its characters."""
TARGET_WORDS = 200
"""The words of a usual ``Chunker()`` chunk (the last of an article may be shorter, none is
longer than 250): what the reader's budget counts a passage in."""


def count_words(text: str) -> int:
    """Number of words in ``text`` (the unit of all chunk sizes): whitespace-separated, a
    run over ``LONG_RUN`` characters one per ``RUN_WORD_CHARS`` of them."""
    return sum(
        1 if len(word) <= LONG_RUN else -(-len(word) // RUN_WORD_CHARS) for word in text.split()
    )


def _word_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The ``(start, end)`` of each word of ``text[start:end]``, long runs cut."""
    spans = []
    for m in _WORD.finditer(text, start, end):
        a, b = m.span()
        if b - a <= LONG_RUN:
            spans.append((a, b))
        else:
            spans.extend((i, min(i + RUN_WORD_CHARS, b)) for i in range(a, b, RUN_WORD_CHARS))
    return spans


@dataclass(frozen=True, slots=True)
class _Unit:
    start: int
    end: int
    words: int


class Chunker:
    """Split articles into sentence-aware chunks of about ``target_words`` words.

    ``target_words``: a chunk is closed once it holds at least this many words;
    ``max_words``: hard upper bound of a chunk's word count;
    ``overlap_words``: approximate number of words (whole sentences) repeated from the end of
    one chunk at the start of the next; 0 disables overlap.

    Invalid sizes raise ``ValueError`` naming the bad value (non-integers: ``TypeError``).
    """

    def __init__(
        self, target_words: int = TARGET_WORDS, max_words: int = 250, overlap_words: int = 40
    ):
        for name, value in (
            ("target_words", target_words),
            ("max_words", max_words),
            ("overlap_words", overlap_words),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an integer, got {value!r}")
        if target_words < 1:
            raise ValueError(f"target_words must be at least 1, got {target_words}")
        if max_words < target_words:
            raise ValueError(
                f"max_words must be at least target_words ({target_words}), got {max_words}"
            )
        if overlap_words < 0:
            raise ValueError(f"overlap_words must not be negative, got {overlap_words}")
        if overlap_words >= target_words:
            raise ValueError(
                f"overlap_words must be smaller than target_words ({target_words}), "
                f"got {overlap_words}"
            )
        self.target_words = target_words
        self.max_words = max_words
        self.overlap_words = overlap_words

    def __repr__(self) -> str:
        return (
            f"Chunker(target_words={self.target_words}, max_words={self.max_words}, "
            f"overlap_words={self.overlap_words})"
        )

    def split(self, article: Article) -> list[Chunk]:
        """The chunks of one article, ordinals 0..n-1; ``[]`` for a blank article."""
        text = article.text
        units = self._units(text)
        chunks: list[Chunk] = []
        for first, last in self._pack(units):
            start, end = units[first].start, units[last - 1].end
            chunks.append(
                Chunk(
                    article_id=article.id,
                    ordinal=len(chunks),
                    char_start=start,
                    char_end=end,
                    text=text[start:end],
                )
            )
        return chunks

    def split_many(self, articles: Iterable[Article]) -> list[Chunk]:
        """The chunks of all ``articles``, in order (ordinals restart at 0 per article)."""
        out: list[Chunk] = []
        for article in articles:
            out.extend(self.split(article))
        return out

    # -- internals -----------------------------------------------------------------------------

    def _units(self, text: str) -> list[_Unit]:
        """Sentence spans, with sentences over ``max_words`` cut into word pieces."""
        units: list[_Unit] = []
        for start, end in split_sentences(text):
            words = _word_spans(text, start, end)
            n = len(words)
            if n <= self.max_words:
                units.append(_Unit(start, end, n))
                continue
            pieces = math.ceil(n / self.target_words)
            size = math.ceil(n / pieces)  # <= target_words <= max_words
            for i in range(0, n, size):
                piece = words[i : i + size]
                units.append(_Unit(piece[0][0], piece[-1][1], len(piece)))
        return units

    def _pack(self, units: list[_Unit]) -> list[tuple[int, int]]:
        """Half-open unit index ranges ``[first, last)`` of the chunks."""
        n = len(units)
        rest = [0] * (n + 1)  # rest[i] = words in units[i:]
        for i in range(n - 1, -1, -1):
            rest[i] = rest[i + 1] + units[i].words
        ranges: list[tuple[int, int]] = []
        first = 0
        while first < n:
            if rest[first] <= self.max_words:
                ranges.append((first, n))
                break
            # Share what is left evenly when it is only a bit more than one chunk.
            target = min(self.target_words, math.ceil((rest[first] + self.overlap_words) / 2))
            total = units[first].words
            last = first + 1
            while last < n and total < target and total + units[last].words <= self.max_words:
                total += units[last].words
                last += 1
            ranges.append((first, last))
            if last >= n:
                break
            first = last - self._overlap_units(units, first, last)
        return ranges

    def _overlap_units(self, units: list[_Unit], first: int, last: int) -> int:
        """How many trailing units of ``units[first:last]`` to repeat in the next chunk."""
        if self.overlap_words == 0:
            return 0
        room = self.max_words - units[last].words  # the next chunk must take units[last]
        limit = min(2 * self.overlap_words, self.target_words - 1, room)
        best, best_dist = 0, self.overlap_words  # distance of "no overlap"
        words = 0
        for k in range(1, last - first):  # never repeat the whole chunk
            words += units[last - k].words
            if words > limit:
                break
            dist = abs(words - self.overlap_words)
            if dist < best_dist:
                best, best_dist = k, dist
        return best
