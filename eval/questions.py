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


def load_questions(path: Path) -> list[ReferenceQuestion]:
    """Read a question file; a malformed line is an error naming the file and line."""
    questions = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                questions.append(
                    ReferenceQuestion(
                        id=str(row["id"]),
                        question=str(row["question"]),
                        relevant=frozenset(row.get("relevant", [])),
                        answers=tuple(row.get("answers", [])),
                        answerable=bool(row.get("answerable", True)),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a reference question ({exc})") from exc
    return questions
