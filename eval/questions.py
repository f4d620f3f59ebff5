"""Reference question files (JSON Lines, format in the shared data README)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ReferenceQuestion:
    id: str
    question: str
    relevant: frozenset[str] = field(default_factory=frozenset)
    answers: tuple[str, ...] = ()
    answerable: bool = True
    is_list: bool | None = None
    """``"list": true``: every answer is asked for ("which programs"); false: the answers are
    alternatives ("Harnojoyo", "H. Harnojoyo"). Unset (the shared sets): 2+ answers are a list."""

    @property
    def asks_for_all(self) -> bool:
        return self.is_list if self.is_list is not None else len(self.answers) >= 2


def load_questions(path: Path) -> list[ReferenceQuestion]:
    """Read a question file; a malformed line is an error naming the file and line, and so is
    an id used twice (per-question results and TREC runs are keyed by it) or a ``relevant`` or
    ``answers`` that is not a list of strings (a bare string would be read letter by letter)."""
    questions = []
    lines: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line.rstrip("\r\n"))  # a cut line fails where it ends
                question = ReferenceQuestion(
                    id=str(row["id"]),
                    question=str(row["question"]),
                    relevant=frozenset(_strings(row, "relevant")),
                    answers=_strings(row, "answers"),
                    answerable=bool(row.get("answerable", True)),
                    is_list=None if row.get("list") is None else bool(row["list"]),
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a reference question ({exc})") from exc
            if (first := lines.setdefault(question.id, number)) != number:
                raise ValueError(
                    f"{path}:{number}: question id {question.id!r} repeats line {first}"
                )
            questions.append(question)
    return questions


def _strings(row: dict, key: str) -> tuple[str, ...]:
    values = row.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise TypeError(f"{key!r} must be a list of strings, not {json.dumps(values)[:60]}")
    return tuple(values)
