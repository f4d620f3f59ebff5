"""Messages and docstrings that send a reader to a README section name one that exists.

An error message that says "recalibrate (README, 'Reader')" is no help once the section is
called something else; four such names had gone stale before this test."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = ("indexer", "service", "newsqa", "eval", "bench")
# README, "Section" / README 'Section', also across a string or comment line break
REFERENCE = re.compile(r"""README,?\s+["']([^"'\n]{3,80})["']""")
JOINS = re.compile(r"""["']\s*\n\s*["']|\n\s*#\s*""")


def sections() -> list[str]:
    """Headings and the bold words that open a paragraph, as the README names its sections."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.findall(r"^#+\s+(.+)$", text, re.MULTILINE)
    found += re.findall(r"^\*\*(.+?)\*\*", text, re.MULTILINE)
    return [_plain(s) for s in found]


def references() -> list[tuple[str, str]]:
    out = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            source = JOINS.sub(" ", path.read_text(encoding="utf-8"))
            for name in REFERENCE.findall(source):
                out.append((str(path.relative_to(ROOT)), name))
    return out


def _plain(name: str) -> str:
    return re.sub(r"\s+", " ", name.replace("`", "")).strip(" .:").casefold()


def test_code_names_readme_sections_that_exist() -> None:
    named = sections()
    found = references()
    assert len(found) >= 8  # the pattern still finds the references
    stale = [
        (path, name) for path, name in found if not any(s.startswith(_plain(name)) for s in named)
    ]
    assert not stale, stale
