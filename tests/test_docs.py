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


# Files beside the code that send a reader to the README too (the Dockerfile and compose.yaml
# named a "Docker" section that did not exist).
OTHER_FILES = ("Dockerfile", "compose.yaml", "Makefile", ".ci/run", ".ci/wheel-smoke")


def references() -> list[tuple[str, str]]:
    out = []
    paths = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    for path in paths + [ROOT / name for name in OTHER_FILES if (ROOT / name).is_file()]:
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


def test_the_configuration_table_is_the_settings():
    """Every NEWSQA_ setting has its row in README's "Configuration" table, and every row
    names a setting: a variable the table lacks is one nobody finds; one the code lacks is
    ignored without a word (extra="ignore")."""
    from newsqa.settings import Settings

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `NEWSQA_")]
    documented = {
        m.lower() for row in rows for m in re.findall(r"`NEWSQA_([A-Z_]+)`", row.split(" | ")[0])
    }
    assert documented == set(Settings.model_fields)


def test_every_bench_section_runs_alone():
    """README: `python -m bench.incremental` runs one section alone, "also bench.embedding,
    ...": `python -m bench.news`, `bench.batch` and `bench.real` ran nothing and exited 0."""
    modules = (
        "indexing", "peer", "latency", "faiss_types", "incremental", "embedding",
        "write_isolation", "answers", "news", "batch", "real",
    )  # fmt: skip
    silent = [
        m
        for m in modules
        if 'if __name__ == "__main__":' not in (ROOT / "bench" / f"{m}.py").read_text("utf-8")
    ]
    assert silent == []
