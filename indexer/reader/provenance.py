"""Where a reader came from: data hashes, settings, commit and figures, in ``manifest.json``."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from dataclasses import asdict
from pathlib import Path

import torch

from indexer.reader.model import ExtractiveReader, shipped_state

MANIFEST_NAME = "manifest.json"


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_state(directory: Path) -> dict:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=directory, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def encoder_config(encoder_dir: Path) -> dict:
    try:
        config = json.loads((encoder_dir / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    keys = ("model_type", "hidden_size", "num_hidden_layers", "vocab_size")
    return {k: config.get(k) for k in keys}


def write_manifest(
    out_dir: Path,
    weights: Path,
    model: ExtractiveReader,
    encoder_dir: Path,
    data_paths: dict[str, Path],
    config: object,
    sections: dict,
) -> dict:
    """``manifest.json`` beside the weights: enough to tell which data, settings and commit
    produced them and what they scored, without loading them. ``sections`` holds what the run
    measured (data_stats, training, tuned, validation) and the schedule it ran (settings)."""
    settings = sections.pop("settings", {})
    manifest = {
        "format": "newsqa-extractive-reader",
        "weights": {
            "file": weights.name,
            "sha256": sha256_file(weights),
            "bytes": weights.stat().st_size,
            "dtype": "bfloat16",
            "tensors": len(model.shipped_keys()),
            "parameters": sum(t.numel() for t in shipped_state(model).values()),
            "not_shipped": "encoder.embeddings.word_embeddings.weight (frozen; taken from "
            "the encoder folder at load time)",
        },
        "encoder": {"folder": encoder_dir.name, "config": encoder_config(encoder_dir)},
        "no_answer": "CLS position (SQuAD 2.0 style): score start[0] + end[0]; answer when "
        "span score - no-answer score > tuned.no_answer_threshold",
        "data": {
            name: {"path": str(path), "sha256": sha256_file(path)}
            for name, path in data_paths.items()
        },
        "data_stats": sections.pop("data_stats"),
        "settings": {
            **asdict(config),  # type: ignore[call-overload]
            "optimizer": "AdamW",
            "schedule": "linear warmup then linear decay to 0",
            **settings,
            "precision": "fp32 training; bf16 weights shipped; fp32 inference",
            "frozen": ["encoder.embeddings.word_embeddings.weight"],
            "torch": torch.__version__,
        },
        "git": git_state(Path(__file__).resolve().parent),
        **sections,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    manifest["training"]["host_cpus"] = os.cpu_count()
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    (out_dir / MANIFEST_NAME).write_text(text)
    return manifest
