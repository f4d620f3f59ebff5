"""Extractive question answering: answer spans read out of passages by a fine-tuned e5 encoder.

``model`` (the network, saving and loading its weights), ``spans`` (reading passages: spans
with character offsets and a no-answer score), ``train`` (training and evaluation). The
trained weights ship in ``weights/`` (one bf16 safetensors file and its manifest); the word
embeddings are not in them but come from the bundled encoder folder. Nothing here reads the
project's settings: callers pass the encoder folder and the weights path.
"""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WEIGHTS_PATH = WEIGHTS_DIR / "reader.safetensors"
MANIFEST_PATH = WEIGHTS_DIR / "manifest.json"

__all__ = ["WEIGHTS_DIR", "WEIGHTS_PATH", "MANIFEST_PATH"]
