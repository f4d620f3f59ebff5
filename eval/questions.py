"""Reference question files (JSON Lines, format in the shared data README)."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

from service.schemas import QUESTION_MAX_CHARS


@dataclass(frozen=True)
class ReferenceQuestion:
    id: str
    question: str
    relevant: frozenset[str] = field(default_factory=frozenset)
    answers: tuple[str, ...] = ()
    answerable: bool = True
    is_list: bool | None = None
    """``"list": true``: every answer is asked for ("which programs"); false or unset: the
    answers are alternatives ("Harnojoyo", "H. Harnojoyo"), as ../shared's README defines
    ``answers`` ("an answer is right when it contains one"). Reading 2+ answers as a list made
    facqa-valid-21's two alternatives the one question behind its list recall."""

    @property
    def asks_for_all(self) -> bool:
        return bool(self.is_list)


def load_questions(path: Path) -> list[ReferenceQuestion]:
    """Read a question file; a malformed line is an error naming the file and line, and so is
    an id used twice (per-question results and TREC runs are keyed by it), an id with
    whitespace (a TREC run's fields are split at it), a ``relevant`` or ``answers`` that is not
    a list of strings (a bare string would be read letter by letter), a question that is not a
    non-blank string (null was asked as "None") or is longer than POST /ask takes, and an
    ``answerable`` or ``list`` that is not a boolean (``"false"`` was read as true). A byte
    order mark first is dropped, as the corpus reader drops it. A field name one letter or two
    from a known one (``"relevent"``) is an error too (``_check_field_names``); other fields are
    ignored."""
    questions = []
    lines: dict[str, int] = {}
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                if number == 1 and raw.startswith((b"\xff\xfe", b"\xfe\xff")):
                    raise ValueError(
                        "UTF-16, PowerShell's default encoding: save the file as UTF-8"
                    )
                line = raw.decode("utf-8").rstrip("\r\n")  # a cut line fails where it ends
                if not line.strip():
                    continue
                row = json.loads(line.removeprefix("\ufeff") if number == 1 else line)
                if not isinstance(row, dict):
                    raise TypeError(f"a line must be a JSON object, not {json.dumps(row)[:60]}")
                _check_field_names(row)
                question = ReferenceQuestion(
                    id=_id(row),
                    question=_text(row),
                    relevant=frozenset(_strings(row, "relevant")),
                    answers=_strings(row, "answers"),
                    answerable=_flag(row, "answerable", True),
                    is_list=_flag(row, "list", None),
                )
            except (ValueError, KeyError, TypeError, RecursionError) as exc:
                reason: object = exc
                if isinstance(exc, RecursionError):
                    reason = "nested too deeply"
                elif isinstance(exc, KeyError):  # "not a reference question ('id')" said little
                    reason = f"no {exc.args[0]!r} field"
                raise ValueError(f"{path}:{number}: not a reference question ({reason})") from exc
            if (first := lines.setdefault(question.id, number)) != number:
                raise ValueError(
                    f"{path}:{number}: question id {question.id!r} repeats line {first}"
                )
            questions.append(question)
    return questions


FIELDS = ("id", "question", "relevant", "answers", "answerable", "list")
"""What a reference question's line may say; other fields (``lang``, ``evidence``) are left
to the tools that read them."""


def _check_field_names(row: dict) -> None:
    """A field a letter or two from one of ``FIELDS`` that the line lacks is a typo: it was
    ignored, so ``"relevent"`` left the question without relevant articles, out of every
    retrieval figure without a word, and ``"answer"`` out of every answer figure."""
    for key in row:
        if key in FIELDS:
            continue
        close = difflib.get_close_matches(key, [f for f in FIELDS if f not in row], 1, 0.8)
        if close:
            raise ValueError(f"field {key!r} is no reference-question field: {close[0]!r}?")


def _id(row: dict) -> str:
    value = row["id"]
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise TypeError(f"'id' must be a string, not {json.dumps(value)[:60]}")
    text = str(value)
    if not text or any(c.isspace() for c in text):
        raise ValueError(f"id {text!r} is empty or holds whitespace (TREC runs split at it)")
    return text


def _text(row: dict) -> str:
    value = row["question"]
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"'question' must be a non-blank string, not {json.dumps(value)[:60]}")
    # The server refuses a longer question (422), and the eval over HTTP cut it to fit while
    # the in-process eval asked it whole: both now refuse it here, before anything runs.
    if (length := len(value.strip())) > QUESTION_MAX_CHARS:
        raise ValueError(
            f"'question' has {length} characters; POST /ask takes at most {QUESTION_MAX_CHARS}"
        )
    return value


def _flag(row: dict, key: str, default: bool | None) -> bool | None:
    value = row.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise TypeError(f"{key!r} must be true or false, not {json.dumps(value)[:60]}")
    return value


def _strings(row: dict, key: str) -> tuple[str, ...]:
    values = row.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise TypeError(f"{key!r} must be a list of strings, not {json.dumps(values)[:60]}")
    return tuple(values)
