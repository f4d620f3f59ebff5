"""Training examples for the reader: FacQA-style questions paired with their passage.

Questions (JSON Lines: ``id, question, relevant, answers``) point at their passage (the first
``relevant`` id in a passages file of ``id, text`` lines); the answer is the first
case-insensitive occurrence of the first answer string found in the passage (questions with
no answer in their passage are skipped and counted). Negatives pair a question with another
question's passage that holds none of its answers; their target is the CLS position.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from indexer.reader.code_switch import english_question
from indexer.sentences import split_sentences

Q = TypeVar("Q")


@dataclass
class Example:
    qid: str
    question: str
    passage_id: str
    passage: str
    answers: list[str]
    answer_start: int | None = None
    """Character offsets of the answer in the passage; None for a negative."""
    answer_end: int | None = None


def read_jsonl(path: str | Path) -> list[dict]:
    """Every line's object; ``ValueError`` naming the file and line of one that is none (the
    parser's own message said "line 1 column 2" of the line alone)."""
    rows = []
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc})") from exc
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{number}: not a JSON object")
            rows.append(row)
    return rows


def load_passages(path: str | Path) -> dict[str, str]:
    return {row["id"]: row["text"] for row in read_jsonl(path)}


def find_answer(passage: str, answers: Sequence[str]) -> tuple[int, int] | None:
    """The first case-insensitive occurrence of the first answer found in the passage."""
    folded = passage.lower()
    for answer in answers:
        answer = answer.strip()
        if not answer:
            continue
        at = folded.find(answer.lower())
        if at >= 0 and len(answer.lower()) == len(answer):
            return at, at + len(answer)
        if at >= 0:  # lower() changed the length: search the original text instead
            match = re.search(re.escape(answer), passage, flags=re.IGNORECASE)
            if match:
                return match.start(), match.end()
    return None


def prepare_examples(
    questions: Sequence[dict], passages: dict[str, str]
) -> tuple[list[Example], dict[str, int]]:
    """Positive examples; counts of questions used and skipped (and why)."""
    examples: list[Example] = []
    skipped: Counter[str] = Counter()
    for q in questions:
        if q.get("answerable", True) is False or not q.get("answers"):
            skipped["no_answer_given"] += 1
            continue
        pid = next((r for r in q.get("relevant", []) if r in passages), None)
        if pid is None:
            skipped["passage_missing"] += 1
            continue
        found = find_answer(passages[pid], q["answers"])
        if found is None:
            skipped["answer_not_in_passage"] += 1
            continue
        examples.append(
            Example(q["id"], q["question"], pid, passages[pid], list(q["answers"]), *found)
        )
    return examples, {"questions": len(questions), "used": len(examples), **skipped}


def split_holdout(
    examples: Sequence[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """(train, held out): whole passages go to one side, chosen by a seeded shuffle."""
    if fraction <= 0:
        return list(examples), []
    passage_ids = sorted({e.passage_id for e in examples})
    random.Random(seed).shuffle(passage_ids)
    held = set(passage_ids[: max(1, round(fraction * len(passage_ids)))])
    return (
        [e for e in examples if e.passage_id not in held],
        [e for e in examples if e.passage_id in held],
    )


def sample_negatives(
    examples: Sequence[Example], ratio: float, rng: random.Random
) -> list[Example]:
    """``round(ratio * len(examples))`` questions, each paired with another example's passage
    that holds none of its answers."""
    pool = passage_pool(examples)
    count = min(len(examples), round(ratio * len(examples)))
    if count == 0 or len(pool) < 2:
        return []
    negatives = []
    for e in rng.sample(list(examples), count):
        folded = [a.lower() for a in e.answers]
        for _ in range(20):
            pid, text = pool[rng.randrange(len(pool))]
            if pid != e.passage_id and not any(a in text.lower() for a in folded):
                negatives.append(Example(e.qid, e.question, pid, text, e.answers))
                break
    return negatives


def without_answer(example: Example, min_words: int = 8) -> Example | None:
    """The example's passage with every sentence that holds an answer taken out, as a
    negative; None when too little is left or an answer still occurs.

    Negatives from other questions' passages teach the no-answer score to spot another topic.
    A user's question about a story the index holds, asking a fact the article never gives
    ("how much did it cost"), lands on a passage of the right topic: only these negatives show
    the reader that case."""
    folded = [a.lower() for a in example.answers if a.strip()]
    kept = [
        example.passage[s:e]
        for s, e in split_sentences(example.passage)
        if not any(a in example.passage[s:e].lower() for a in folded)
    ]
    text = " ".join(kept)
    if len(text.split()) < min_words or any(a in text.lower() for a in folded):
        return None
    return Example(example.qid, example.question, example.passage_id, text, example.answers)


def topical_negatives(
    examples: Sequence[Example], ratio: float, rng: random.Random
) -> list[Example]:
    """Up to ``round(ratio * len(examples))`` negatives from a seeded choice of examples: their
    own passage without the sentences that answer them (``without_answer``)."""
    count = min(len(examples), round(ratio * len(examples)))
    if count == 0:
        return []
    chosen = (without_answer(e) for e in rng.sample(list(examples), count))
    return [e for e in chosen if e is not None]


def lengthen(
    example: Example,
    pool: Sequence[tuple[str, str]],
    rng: random.Random,
    words: int,
) -> Example:
    """The example with other pool passages (none holding one of its answers) around its own,
    in random order, until the context has about ``words`` words; offsets shifted."""
    folded = [a.lower() for a in example.answers]
    others: list[str] = []
    total = len(example.passage.split())
    for _ in range(200):
        if total >= words:
            break
        pid, text = pool[rng.randrange(len(pool))]
        if pid == example.passage_id or any(a in text.lower() for a in folded):
            continue
        others.append(text)
        total += len(text.split())
    at = rng.randint(0, len(others))
    parts = others[:at] + [example.passage] + others[at:]
    context = " ".join(parts)
    shift = len(" ".join(parts[:at])) + (1 if at else 0)
    start = None if example.answer_start is None else example.answer_start + shift
    end = None if example.answer_end is None else example.answer_end + shift
    return Example(
        example.qid, example.question, example.passage_id, context, example.answers, start, end
    )


def lengthen_some(
    examples: Sequence[Example],
    pool: Sequence[tuple[str, str]],
    ratio: float,
    word_range: tuple[int, int],
    rng: random.Random,
) -> list[Example]:
    """``examples`` with a ``ratio`` share of them (seeded choice) lengthened."""
    if ratio <= 0 or len(pool) < 2 or not examples:
        return list(examples)
    chosen = set(rng.sample(range(len(examples)), round(ratio * len(examples))))
    return [
        lengthen(e, pool, rng, rng.randint(*word_range)) if i in chosen else e
        for i, e in enumerate(examples)
    ]


def passage_pool(examples: Sequence[Example]) -> list[tuple[str, str]]:
    return sorted({(e.passage_id, e.passage) for e in examples})


def in_english(examples: Sequence[Q]) -> list[Q]:
    """The examples (any dataclass with a ``question``) whose question the pseudo-English
    rewrite recognises, rewritten."""
    out = []
    for e in examples:
        english = english_question(e.question)  # type: ignore[attr-defined]
        if english:
            out.append(replace(e, question=english))  # type: ignore[type-var]
    return out


def switch_some(examples: Sequence[Example], ratio: float, rng: random.Random) -> list[Example]:
    """``examples`` with a ``ratio`` share of their questions (seeded choice) rewritten in
    pseudo-English: users ask in English over Indonesian articles, and FacQA has no English."""
    if ratio <= 0 or not examples:
        return list(examples)
    chosen = set(rng.sample(range(len(examples)), round(ratio * len(examples))))
    out = []
    for i, e in enumerate(examples):
        english = english_question(e.question) if i in chosen else None
        out.append(replace(e, question=english) if english else e)
    return out
