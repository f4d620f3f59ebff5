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
                        is_list=None if row.get("list") is None else bool(row["list"]),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a reference question ({exc})") from exc
    return questions
