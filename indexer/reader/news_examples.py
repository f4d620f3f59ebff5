"""Training examples from news articles: questions written for this project over detik articles.

FacQA's passages are short and its questions Indonesian; the service reads long news chunks
and is asked in English too. A news question names its article (``relevant``), its answer
(``answers[0]``, a span of the cleaned article text) and the passage that states it
(``evidence``): the example's passage is the window of whole sentences holding that answer,
cut as the service cuts its chunks into windows (``indexer.sentences.sentence_windows``, at
most ``window_words`` words; here over the whole article, so a window may differ from the
service's where a chunk ends), so the reader learns from what it is later shown.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from indexer.cleaning import clean_text
from indexer.reader.examples import Example, read_jsonl
from indexer.sentences import sentence_windows


def _answer_range(text: str, evidence: str, answer: str) -> tuple[int, int] | None:
    at = text.find(evidence) if evidence else -1
    if at < 0:
        return None
    inner = evidence.find(answer)
    if inner < 0:
        return None
    return at + inner, at + inner + len(answer)


def news_examples(
    questions_path: str | Path, corpus_path: str | Path, window_words: int
) -> tuple[list[Example], dict[str, int]]:
    """Positive examples (passage: the answer's sentence window, id ``article#start``); counts
    of questions used and skipped (and why). A question whose evidence or answer is not found
    in its cleaned article is skipped, not guessed at."""
    questions = read_jsonl(questions_path)
    wanted = {r for q in questions for r in q.get("relevant", [])[:1]}
    texts = {
        row["id"]: clean_text(row["text"])
        for row in read_jsonl(corpus_path)
        if row.get("id") in wanted
    }
    windows = {article: sentence_windows(text, window_words) for article, text in texts.items()}
    examples: list[Example] = []
    skipped: Counter[str] = Counter()
    for q in questions:
        article = (q.get("relevant") or [None])[0]
        if article not in texts:
            skipped["article_missing"] += 1
            continue
        text = texts[article]
        found = _answer_range(text, q.get("evidence", ""), (q.get("answers") or [""])[0])
        if found is None:
            skipped["answer_not_in_article"] += 1
            continue
        start, end = found
        window = next(((s, e) for s, e in windows[article] if s <= start and end <= e), None)
        if window is None:  # the answer runs over a window's edge
            skipped["answer_across_windows"] += 1
            continue
        ws, we = window
        examples.append(
            Example(
                q["id"],
                q["question"],
                f"{article}#{ws}",
                text[ws:we],
                list(q["answers"]),
                start - ws,
                end - ws,
            )  # fmt: skip
        )
    return examples, {"questions": len(questions), "used": len(examples), **skipped}
