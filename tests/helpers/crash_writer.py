"""A writer that never stops: adds, updates and deletes articles in a loop, logging each
commit. tests/test_crash_safety.py kills it with SIGKILL at random moments."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from indexer.pipeline import build_index
from indexer.store import IndexWriter
from newsqa.settings import Settings
from service.index_open import open_embedder


def main(index_dir: Path, corpus: Path, log: Path, run: int) -> None:
    records = [json.loads(line) for line in corpus.open()]
    embedder = open_embedder(Settings())
    print("ready", flush=True)
    for i in range(10**6):
        record = dict(records[i % len(records)])
        if i % 3 == 2:
            with IndexWriter(index_dir, embedder.name, embedder.dimension, 60) as writer:
                writer.delete([f"crash-{run}-{i - 2}"])
                manifest = writer.commit()
        else:
            record["id"] = f"crash-{run}-{i - (i % 3)}"
            record["url"] = None
            record["text"] += f" Pembaruan {run}-{i}."
            source = index_dir.parent / f"in-{run}.jsonl"
            source.write_text(json.dumps(record) + "\n")
            manifest = build_index([source], index_dir, embedder, lock_timeout=60).manifest
        with log.open("a") as fh:
            fh.write(f"{manifest.generation} {manifest.articles}\n")
            fh.flush()
            os.fsync(fh.fileno())


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
