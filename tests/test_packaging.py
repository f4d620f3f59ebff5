"""The wheel holds every data file the installed code reads beside its own modules.

`pip install .` (and the Docker image, which installs so) ships only the non-Python files that
pyproject's package-data names. `indexer/lexicon_en_id.tsv` was not named: from a wheel every
English question failed with "No such file or directory: .../lexicon_en_id.tsv", while the
checkout, where the file lies beside the module, answered. `make test-wheel` asks in Indonesian,
which never reads that lexicon."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Read through Path(__file__) by the installed code (query_lexicon, code_switch, the reader's
# weights, the web page).
DATA_FILES = [
    "indexer/lexicon_en_id.tsv",
    "indexer/reader/lexicon_id_en.tsv",
    "indexer/reader/weights/reader.safetensors",
    "indexer/reader/weights/manifest.json",
    "indexer/reader/weights/thresholds.json",
    "service/static/index.html",
    "service/static/app.js",
]


def test_the_wheel_holds_the_data_files_the_code_reads(tmp_path):
    source = tmp_path / "src"  # the files git ships, as .ci/wheel-smoke builds from
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", "HEAD"],
        check=True,
        capture_output=True,
    ).stdout
    source.mkdir()
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    for name in ["pyproject.toml"]:  # this checkout's, committed or not
        (source / name).write_bytes((REPO / name).read_bytes())
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--wheel-dir", str(dist), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("newsqa-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [n for n in DATA_FILES if n not in names] == []

    # and from the unpacked wheel alone, an English question's lexicon loads
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    code = (
        "import indexer.query_lexicon as q; "
        f"assert q.__file__.startswith({str(unpacked)!r}), q.__file__; "
        "print(q.english_lexicon()['price'])"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "harga" in run.stdout
